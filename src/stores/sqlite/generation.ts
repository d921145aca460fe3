/**
 * Detects a store that went back in time (RELIABILITY ST-03): a `-wal` file deleted or replaced
 * after a crash takes with it every commit not yet checkpointed into the main file, and a resume
 * from that older state would run again tasks whose success had been committed.
 *
 * Each commit that adds facts (a run, journal entries) counts up a `generation` in the database,
 * in the same transaction, and then writes the number to a sidecar file beside it
 * (`<file>-generation`, a plain write the kernel keeps even if the process is killed; synced when
 * the store closes). On open, a database whose generation is below the sidecar's lost commits:
 * the store refuses it, naming both, rather than resume from it. The sidecar is written only
 * after the commit it names is durable (`synchronous=FULL`), so a power cut can leave it behind
 * the database, never ahead: it never refuses a store that lost nothing.
 * @module
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import type { Database, Statement } from 'better-sqlite3'
import { storeError } from './errors.js'

/** Width of the number in the sidecar: rewritten in place, it never leaves a longer old tail. */
const WIDTH = 20

/** The generation counter of an open store and its sidecar file. */
export class GenerationMark {
  readonly #next: Statement<[], number>
  readonly #fd: number
  /** Counted in the transaction under way; recorded once it has committed. */
  #pending: number | undefined
  #recorded: number

  /**
   * Reads the database's generation and the sidecar's; throws `TW_STORE` when the database is
   * behind (it lost commits). A missing sidecar (a new store, or one an older taskweave wrote) is
   * made from the database.
   */
  constructor(db: Database, file: string, location: string) {
    const current = db.prepare('SELECT n FROM generation').pluck().get() as number
    const sidecar = `${file}-generation`
    const recorded = readRecorded(sidecar)
    if (recorded !== undefined && recorded > current) {
      throw storeError(
        location,
        `the database lost committed transactions: it is at generation ${current}, but ${sidecar} recorded ${recorded} (its -wal file was deleted or replaced after a crash?). Resuming from it would run again tasks whose success had been committed: put the -wal file back or restore a backup; to open it anyway and accept that, delete ${sidecar}`,
        { retryable: false },
      )
    }
    this.#next = db.prepare<[], number>('UPDATE generation SET n = n + 1 RETURNING n').pluck()
    this.#fd = openSync(sidecar, existsSync(sidecar) ? 'r+' : 'w+')
    this.#recorded = -1
    this.#write(current)
  }

  /** Counts the transaction under way (call inside it). */
  count(): void {
    this.#pending = this.#next.get()
  }

  /** Records the count of the transaction that just committed. */
  committed(): void {
    const n = this.#pending
    this.#pending = undefined
    if (n !== undefined && n > this.#recorded) this.#write(n)
  }

  /** Forgets the count of a transaction that rolled back. */
  rolledBack(): void {
    this.#pending = undefined
  }

  /** Syncs and closes the sidecar (the store closes). */
  close(): void {
    try {
      fsyncSync(this.#fd)
    } finally {
      closeSync(this.#fd)
    }
  }

  #write(n: number): void {
    writeSync(this.#fd, `${String(n).padStart(WIDTH, '0')}\n`, 0)
    this.#recorded = n
  }
}

/** The generation the sidecar holds, or undefined when there is none (or it holds no number). */
function readRecorded(sidecar: string): number | undefined {
  if (!existsSync(sidecar)) return undefined
  const n = Number(readFileSync(sidecar, 'utf8').trim())
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}
