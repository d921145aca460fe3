/**
 * The names of what a work queue is made of on the broker. A queue's own name may hold letters,
 * digits, `.`, `-` and `_` only, so the parts made from it are told apart by `:`, which no queue
 * name holds: `taskweave.jobs` (main), `taskweave.jobs:later`, `taskweave.jobs:delay:2000`,
 * `taskweave.jobs:dlx` and `taskweave.jobs:dead` never clash with another queue's names.
 * @module
 */
import { createHash } from 'node:crypto'

/** The queues and the exchange of one work queue. */
export interface WorkQueueNames {
  /** Ready messages from `enqueue`: a priority queue, the one `maxSize` bounds. */
  readonly main: string
  /**
   * Messages that became ready later: delayed enqueues and retries after their delay, nacked,
   * redelivered and requeued ones. A priority queue without a length limit, consumed with the
   * main one, so a retry is never refused by a queue that filled up meanwhile (RabbitMQ drops a
   * dead-lettered message that a full `reject-publish` queue refuses).
   */
  readonly later: string
  /** The fanout exchange dead letters go through. */
  readonly deadExchange: string
  /** The dead-letter queue. */
  readonly dead: string
  /** The delay queue for `delayMs` (already a bucket, see {@link delayBucket}). */
  delay(delayMs: number): string
}

/** The names of the work queue whose main queue is `main`. */
export function workQueueNames(main: string): WorkQueueNames {
  return {
    main,
    later: `${main}:later`,
    deadExchange: `${main}:dlx`,
    dead: `${main}:dead`,
    delay: (delayMs) => `${main}:delay:${delayMs}`,
  }
}

/**
 * The delay queue a delay goes to: the delay rounded up to two significant digits (1234 ms →
 * 1300 ms; the exponential backoff's steps are kept exactly). Never sooner than asked, at most
 * 10% later, and a bounded number of delay queues however varied the delays asked for.
 */
export function delayBucket(delayMs: number): number {
  if (!(delayMs > 0)) return 0
  const ms = Math.ceil(delayMs)
  if (ms < 100) return ms
  const unit = 10 ** (Math.floor(Math.log10(ms)) - 1)
  return Math.ceil(ms / unit) * unit
}

/** RabbitMQ refuses queue names over 255 bytes; a longer part (an owner or worker id) is shortened and made unique with a hash. */
export function namePart(text: string): string {
  if (Buffer.byteLength(text) <= 120 && !text.includes(':')) return text
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 16)
  return `${text.replace(/:/g, '_').slice(0, 60)}~${digest}`
}

/** The broker objects of a transport. `:` separates their parts, so they never clash with a queue's (`prefix.name…`). */
export interface TransportNames {
  /** The work queue `queue` (attempts any worker consuming it may take). */
  work(queue: string): WorkQueueNames
  /** The queue of attempts routed to `worker`. */
  worker(worker: string): WorkQueueNames
  /** The report queue of `owner`. */
  owner(owner: string): string
  /** The fanout exchange of cancels. */
  readonly cancels: string
  /** The fanout exchange of worker heartbeats. */
  readonly workers: string
  /** The fanout exchange of ledger notices (which attempts are published, which gone). */
  readonly ledger: string
}

/** The names of the transport under `prefix`. */
export function transportNames(prefix: string): TransportNames {
  return {
    work: (queue) => workQueueNames(`${prefix}:work:${namePart(queue)}`),
    // A worker's queues expire once it is gone; an exchange cannot, so its dead-letter exchange is
    // an auto-delete one, gone with the dead queue bound to it (named apart from the `:dlx` of
    // earlier releases, which was declared otherwise).
    worker: (worker) => {
      const names = workQueueNames(`${prefix}:worker:${namePart(worker)}`)
      return { ...names, deadExchange: `${names.main}:dlx-auto` }
    },
    owner: (owner) => `${prefix}:owner:${namePart(owner)}`,
    cancels: `${prefix}:cancels`,
    workers: `${prefix}:workers`,
    ledger: `${prefix}:ledger`,
  }
}
