/**
 * Confirmed publishing that survives a reconnection. Every message goes through the session's
 * confirm channel in the order it was given (across calls too), and its call resolves once the
 * broker confirmed every message of it (`ok`) or refused some (`nacked`: a queue at its
 * `x-max-length` with `reject-publish`).
 *
 * When the connection drops, messages not yet confirmed wait and are sent again, still in order,
 * on the next connection: a message the broker took just before the drop may then be there
 * twice (delivery is at least once). A call that is not fully confirmed within
 * `publishTimeoutMs` rejects naming the URL (its messages may or may not have been taken).
 *
 * The channel's write buffer is respected: past its high-water mark, sending waits for `drain`,
 * so a large batch does not pile up in memory.
 * @module
 */
import type { ConfirmChannel, Options } from 'amqplib'
import { TaskweaveError } from '../../core/errors.js'
import type { RabbitConnection, Session } from './connection.js'
import type { Scope } from './errors.js'

/** One message to publish. */
export interface Outgoing {
  /** `''` for the default exchange (routing key = queue name). */
  readonly exchange: string
  readonly routingKey: string
  readonly content: Buffer
  readonly options: Options.Publish
}

/** What the broker said about one message. */
export type Confirmation = 'ok' | 'nacked'

interface Batch {
  readonly results: Confirmation[]
  remaining: number
  done: boolean
  readonly resolve: (results: Confirmation[]) => void
  readonly reject: (err: unknown) => void
  readonly timer: NodeJS.Timeout
}

interface Item {
  readonly seq: number
  readonly message: Outgoing
  readonly batch: Batch
  readonly index: number
}

/** amqplib's confirm callback error for a nack (as opposed to `channel closed`). */
const NACKED = 'message nacked'

/** Publishes with confirms over a {@link RabbitConnection} (see the module header). */
export class Publisher {
  readonly #connection: RabbitConnection
  readonly #scope: Scope
  readonly #timeoutMs: number
  /** Messages to send, by `seq` (the order they were given in). */
  #waiting: Item[] = []
  #seq = 0
  #draining: ConfirmChannel | undefined

  constructor(connection: RabbitConnection, scope: Scope, timeoutMs: number) {
    this.#connection = connection
    this.#scope = scope
    this.#timeoutMs = timeoutMs
    connection.onReady(() => this.#flush())
  }

  /** Publishes `messages` in order; resolves with what the broker said about each (see the module header). */
  publish(messages: readonly Outgoing[], operation: string): Promise<Confirmation[]> {
    if (this.#connection.closed) return Promise.reject(this.#connection.unreachableError(operation))
    if (messages.length === 0) return Promise.resolve([])
    const blocked = this.#connection.blockedError(operation)
    if (blocked !== undefined) return Promise.reject(blocked)
    return new Promise<Confirmation[]>((resolve, reject) => {
      const batch: Batch = {
        results: new Array<Confirmation>(messages.length),
        remaining: messages.length,
        done: false,
        resolve,
        reject,
        timer: setTimeout(() => this.#expire(batch, operation), this.#timeoutMs),
      }
      for (let index = 0; index < messages.length; index++) this.#waiting.push({ seq: ++this.#seq, message: messages[index] as Outgoing, batch, index })
      this.#flush()
    })
  }

  /** Fails every waiting call (the handle is closing). */
  failAll(err: unknown): void {
    const waiting = this.#waiting
    this.#waiting = []
    for (const item of waiting) this.#fail(item.batch, err)
  }

  #flush(): void {
    const session = this.#connection.session
    if (session === undefined || this.#waiting.length === 0) return
    const channel = session.publisher
    if (this.#draining === channel) return
    this.#draining = undefined
    const waiting = this.#waiting
    let at = 0
    for (; at < waiting.length; at++) {
      const item = waiting[at] as Item
      if (item.batch.done) continue
      if (session.closed) break
      let writable: boolean
      try {
        const { exchange, routingKey, content, options } = item.message
        writable = channel.publish(exchange, routingKey, content, options, (err: unknown) => this.#confirmed(item, err, session))
      } catch (err) {
        // The channel closed under us: this item and the rest wait for the next connection.
        if (err instanceof Error && err.name === 'IllegalOperationError') break
        // Otherwise a message amqplib cannot encode (a headers table over 64 KiB): it fails alone.
        this.#fail(item.batch, err)
        continue
      }
      if (!writable) {
        at++
        this.#draining = channel
        channel.once('drain', () => {
          if (this.#draining === channel) this.#draining = undefined
          this.#flush()
        })
        break
      }
    }
    this.#waiting = at >= waiting.length ? [] : waiting.slice(at)
  }

  #confirmed(item: Item, err: unknown, session: Session): void {
    const { batch } = item
    if (batch.done) return
    if (err === null || err === undefined || (err instanceof Error && err.message === NACKED)) {
      batch.results[item.index] = err === null || err === undefined ? 'ok' : 'nacked'
      if (--batch.remaining === 0) {
        batch.done = true
        clearTimeout(batch.timer)
        batch.resolve(batch.results)
      }
      return
    }
    // The channel closed before the broker confirmed: send it again on the next connection, in
    // its place among the others waiting.
    if (this.#connection.closed) {
      this.#fail(batch, this.#connection.unreachableError('publishing'))
      return
    }
    this.#insert(item)
    if (!session.closed && this.#connection.session === session) this.#flush()
  }

  #insert(item: Item): void {
    const waiting = this.#waiting
    let low = 0
    let high = waiting.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((waiting[mid] as Item).seq < item.seq) low = mid + 1
      else high = mid
    }
    waiting.splice(low, 0, item)
  }

  #expire(batch: Batch, operation: string): void {
    if (batch.done) return
    const connected = this.#connection.session !== undefined
    this.#fail(
      batch,
      // Blocked by an alarm meanwhile: that is why it was not confirmed (what was sent may still
      // be taken once it clears).
      this.#connection.blockedTimeoutError(operation, this.#timeoutMs) ??
      (connected
        ? new TaskweaveError(this.#scope.code, `${this.#scope.subject} at ${this.#scope.location}: ${operation} failed: the broker did not confirm within ${this.#timeoutMs} ms (the messages may or may not have been taken)`, {
            retryable: true,
            details: { location: this.#scope.location, operation, timeoutMs: this.#timeoutMs },
          })
        : this.#connection.unreachableError(operation)),
    )
    this.#waiting = this.#waiting.filter((item) => item.batch !== batch)
  }

  #fail(batch: Batch, err: unknown): void {
    if (batch.done) return
    batch.done = true
    clearTimeout(batch.timer)
    batch.reject(err)
  }
}
