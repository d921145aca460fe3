/**
 * Reports to an owner: one Redis stream per owner. A worker appends with `XADD`; the reports it
 * sends to one owner in one turn of the event loop (a worker at full speed sends many at once) go
 * in one stream entry, as a JSON array, and the entries of one turn in one pipeline: one command
 * and one write for a whole burst costs Redis and Node far less than one per report. The stream
 * is capped at about `reportBacklog` entries (`MAXLEN ~`), for an owner that never reads it.
 *
 * The owner reads with a blocking `XREAD` on a connection of its own, from the start of the
 * stream, so reports sent while it was not listening arrive first, and deletes what it has handed
 * to its handler (`XTRIM MINID`). A stream is ordered, the reports in an entry are in the order
 * they were sent, and one process's entries go out in order on one connection: the reports of one
 * worker to one owner arrive in the order they were sent.
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

/** How long reports nobody reads are kept: an owner's channel outlives it by a day at most. */
const UNREAD_REPORTS_EXPIRE_MS = 24 * 60 * 60 * 1000

/** Most reports read in one `XREAD`. */
const READ_BATCH = 1000
/** Longest block of one `XREAD`: a bound on how long a dropped connection goes unnoticed. */
const BLOCK_MS = 5000

/** The stream key of `owner`'s reports. */
export function reportsKey(prefix: string, owner: string): string {
  return `${prefix}:tw-reports:${owner}`
}

interface PendingReport {
  readonly text: string
  readonly resolve: () => void
  readonly reject: (error: unknown) => void
}

/** The field of an entry holding one report (JSON), and of one holding several (a JSON array). */
const ONE = 'r'
const MANY = 'b'

/**
 * Appends reports to their owners' streams: those of one turn of the event loop together (see the
 * module header), in the order they were appended.
 */
export class ReportWriter {
  readonly #client: Redis
  readonly #backlog: number
  /** Reports waiting for this turn's flush, by stream key (a Map keeps the keys' first-use order). */
  #pending = new Map<string, PendingReport[]>()

  constructor(client: Redis, backlog: number) {
    this.#client = client
    this.#backlog = backlog
  }

  /** Resolves once Redis holds `report`. */
  append(key: string, report: AttemptReport): Promise<void> {
    const text = JSON.stringify(report)
    return new Promise<void>((resolve, reject) => {
      if (this.#pending.size === 0) setImmediate(() => this.#flush())
      const list = this.#pending.get(key)
      const pending: PendingReport = { text, resolve, reject }
      if (list === undefined) this.#pending.set(key, [pending])
      else list.push(pending)
    })
  }

  #flush(): void {
    const batches = [...this.#pending]
    this.#pending = new Map()
    const pipeline = this.#client.pipeline()
    for (const [key, reports] of batches) {
      const [only] = reports
      if (reports.length === 1 && only !== undefined) pipeline.xadd(key, 'MAXLEN', '~', this.#backlog, '*', ONE, only.text)
      else pipeline.xadd(key, 'MAXLEN', '~', this.#backlog, '*', MANY, `[${reports.map((r) => r.text).join(',')}]`)
      // The channel of an owner that died unread goes away on its own (a live reader keeps up long before).
      pipeline.pexpire(key, UNREAD_REPORTS_EXPIRE_MS)
    }
    pipeline.exec().then(
      (results) => {
        batches.forEach(([, reports], k) => {
          const error: unknown = results === null ? new Error('the pipeline was discarded') : results[2 * k]?.[0]
          for (const report of reports) {
            if (error) report.reject(error)
            else report.resolve()
          }
        })
      },
      (error: unknown) => {
        for (const [, reports] of batches) for (const report of reports) report.reject(error)
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
    let reports: AttemptReport[]
    try {
      reports = parseEntry(fields)
    } catch (err) {
      logFailure(this.#logger, `${scopeText(this.#scope)}: a report could not be read`, err)
      return
    }
    for (const report of reports) {
      if (this.#stopped) return
      try {
        this.#handler(report)
      } catch (err) {
        logFailure(this.#logger, `${scopeText(this.#scope)}: the report handler threw`, err)
      }
    }
  }

}

/** The reports of one stream entry (`r`: one, `b`: several), in the order they were sent. */
function parseEntry(fields: readonly string[]): AttemptReport[] {
  const reports: AttemptReport[] = []
  for (let k = 0; k + 1 < fields.length; k += 2) {
    const text = fields[k + 1] as string
    if (fields[k] === ONE) reports.push(JSON.parse(text) as AttemptReport)
    else if (fields[k] === MANY) reports.push(...(JSON.parse(text) as AttemptReport[]))
  }
  return reports
}
