/**
 * Reports to an owner: one Redis stream per owner. A worker appends (`XADD`, trimmed to the
 * backlog), the reports of one turn of the event loop in one pipeline (a worker at full speed
 * sends many at once, and one write for all of them costs Redis and Node far less); the owner reads with a blocking `XREAD` on a connection of its own, from the start of
 * the stream, so reports sent while it was not listening arrive first, and deletes what it has
 * handed to its handler (`XTRIM MINID`). One stream is ordered, and one process's `XADD`s go out
 * in call order on one connection, so reports of one worker to one owner arrive in the order they
 * were sent.
 *
 * Delivery is at least once: an owner that dies between handling reports and trimming them hears
 * them again on its next `receive` (the owner drops what it no longer expects). One reader per
 * owner: two would each hear every report, and each trim would drop what the other has not read.
 * @module
 */
import type { Redis } from 'ioredis'
import type { Logger } from '../../core/logger.js'
import { logFailure } from '../../core/log-failure.js'
import type { AttemptReport, TransportSubscription } from '../../core/transport.js'
import { scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** Most reports read in one `XREAD`. */
const READ_BATCH = 1000
/** Longest block of one `XREAD`: a bound on how long a dropped connection goes unnoticed. */
const BLOCK_MS = 5000

/** The stream key of `owner`'s reports. */
export function reportsKey(prefix: string, owner: string): string {
  return `${prefix}:tw-reports:${owner}`
}

interface PendingReport {
  readonly key: string
  readonly text: string
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

/**
 * Appends reports to their owners' streams, keeping at most about `backlog` reports per owner.
 * Reports appended in one turn of the event loop go out together, in the order they were
 * appended, in one pipeline on one connection: the order of one process's reports holds.
 */
export class ReportWriter {
  readonly #client: Redis
  readonly #backlog: number
  #pending: PendingReport[] = []

  constructor(client: Redis, backlog: number) {
    this.#client = client
    this.#backlog = backlog
  }

  /** Resolves once Redis holds `report`. */
  append(key: string, report: AttemptReport): Promise<void> {
    const text = JSON.stringify(report)
    return new Promise<void>((resolve, reject) => {
      if (this.#pending.length === 0) setImmediate(() => this.#flush())
      this.#pending.push({ key, text, resolve, reject })
    })
  }

  #flush(): void {
    const batch = this.#pending
    this.#pending = []
    const pipeline = this.#client.pipeline()
    for (const report of batch) pipeline.xadd(report.key, 'MAXLEN', '~', this.#backlog, '*', 'r', report.text)
    pipeline.exec().then(
      (results) => {
        batch.forEach((report, k) => {
          const error: unknown = results?.[k]?.[0]
          if (results === null || error) report.reject(error ?? new Error('the pipeline was discarded'))
          else report.resolve()
        })
      },
      (error: unknown) => {
        for (const report of batch) report.reject(error)
      },
    )
  }
}

/** The stream id just after `id`: `XTRIM MINID` keeps ids at or above its threshold. */
function after(id: string): string {
  const dash = id.indexOf('-')
  return `${id.slice(0, dash)}-${Number(id.slice(dash + 1)) + 1}`
}

type StreamReply = [key: string, entries: [id: string, fields: string[]][]][] | null

/** Reads an owner's reports until closed (see the module header). */
export class ReportReader implements TransportSubscription {
  readonly #reader: Redis
  readonly #command: Redis
  readonly #key: string
  readonly #handler: (report: AttemptReport) => void
  readonly #logger: Logger
  readonly #scope: ErrorScope
  #lastId = '0'
  #stopped = false
  #loop: Promise<void> | undefined

  constructor(reader: Redis, command: Redis, key: string, handler: (report: AttemptReport) => void, logger: Logger, scope: ErrorScope) {
    this.#reader = reader
    this.#command = command
    this.#key = key
    this.#handler = handler
    this.#logger = logger
    this.#scope = scope
  }

  /** Starts reading. */
  start(): void {
    this.#loop = this.#run()
  }

  async close(): Promise<void> {
    if (this.#stopped) return this.#loop
    this.#stopped = true
    // Cuts a blocking XREAD short.
    this.#reader.disconnect()
    await this.#loop
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let reply: StreamReply
      try {
        reply = (await this.#reader.xread('COUNT', READ_BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.#key, this.#lastId))
      } catch (err) {
        if (this.#stopped) return
        // The connection broke: ioredis reconnects by itself; read again shortly.
        this.#logger.debug(`${scopeText(this.#scope)}: reading reports: ${String(err)}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      const entries = reply?.[0]?.[1] ?? []
      for (const [id, fields] of entries) {
        this.#lastId = id
        if (this.#stopped) return
        this.#deliver(fields)
      }
      if (entries.length > 0) {
        this.#command.xtrim(this.#key, 'MINID', after(this.#lastId)).catch(() => {
          // Left for the next trim (or the backlog cap): the entries were handled.
        })
      }
    }
  }

  #deliver(fields: string[]): void {
    const at = fields.indexOf('r')
    const text = at >= 0 ? fields[at + 1] : undefined
    if (text === undefined) return
    let report: AttemptReport
    try {
      report = JSON.parse(text) as AttemptReport
    } catch (err) {
      logFailure(this.#logger, `${scopeText(this.#scope)}: a report could not be read`, err)
      return
    }
    try {
      this.#handler(report)
    } catch (err) {
      logFailure(this.#logger, `${scopeText(this.#scope)}: the report handler threw`, err)
    }
  }
}
