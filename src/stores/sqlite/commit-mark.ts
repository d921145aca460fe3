/**
 * Detects a store that went back in time (RELIABILITY ST-03): a `-wal` file deleted or replaced
 * after a crash takes with it every commit not yet checkpointed into the main file, and a resume
 * from that older state would run again tasks whose success had been committed.
 *
 * After each commit that adds facts, the store writes where the newest one is to a sidecar file
 * beside the database (`<file>-commit`): the run (its key) and the last journal entry (its seq)
 * of that commit. It is a plain write, which the kernel keeps even if the process is killed; it
 * costs the database nothing (no row is written for it), and it is synced when the store closes.
 * On open, a database that lacks that run or that entry lost commits: the store refuses it,
 * naming both files, rather than resume from it. The sidecar is written only after the commit it
 * names is durable (`synchronous=FULL`), so a power cut can leave it behind the database, never
 * ahead: it never refuses a store that lost nothing. Before a prune (which may delete the run it
 * names) it is cleared.
 * @module
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs'
import type { Database } from 'better-sqlite3'
import { storeError } from './errors.js'

/** Width of each number in the sidecar: rewritten in place, it never leaves a longer old tail. */
const WIDTH = 20

/** Where the newest commit of an open store is, mirrored to its sidecar file. */
export class CommitMark {
  readonly #fd: number
  /** Set by the transaction under way; recorded once it has committed. */
  #pendingKey = 0
  #pendingSeq = 0
  #recordedKey = -1
  #recordedSeq = -1

  /**
   * Checks the database against the sidecar; throws `TW_STORE` when it lacks what the sidecar
   * names (it lost commits). A missing sidecar (a new store, or one an older taskweave wrote) is
   * made empty.
   */
  constructor(db: Database, file: string, location: string) {
    const sidecar = `${file}-commit`
    const recorded = readRecorded(sidecar)
    if (recorded !== undefined && recorded.key > 0) {
      const run = db.prepare<[number], number>('SELECT key FROM runs WHERE key = ?').pluck().get(recorded.key)
      const last = run === undefined ? undefined : (db.prepare<[number], number | null>('SELECT max(seq) FROM journal WHERE run = ?').pluck().get(recorded.key) ?? 0)
      if (last === undefined || last < recorded.seq) {
        throw storeError(
          location,
          `the database lost committed transactions: ${sidecar} says run #${recorded.key} had journal entry ${recorded.seq}, but the database ${last === undefined ? 'has no such run' : `has it only up to entry ${last}`} (its -wal file was deleted or replaced after a crash?). Resuming from it would run again tasks whose success had been committed: put the -wal file back or restore a backup; to open it anyway and accept that, delete ${sidecar}`,
          { retryable: false },
        )
      }
    }
    this.#fd = openSync(sidecar, existsSync(sidecar) ? 'r+' : 'w+')
    if (recorded === undefined) this.#write(0, 0)
  }

  /** Notes that the transaction under way wrote run `key` up to entry `seq` (0: the run alone). */
  wrote(key: number, seq: number): void {
    this.#pendingKey = key
    this.#pendingSeq = seq
  }

  /** Records what the transaction that just committed wrote. */
  committed(): void {
    const key = this.#pendingKey
    const seq = this.#pendingSeq
    this.#pendingKey = this.#pendingSeq = 0
    if (key > 0 && (key !== this.#recordedKey || seq !== this.#recordedSeq)) this.#write(key, seq)
  }

  /** Forgets what a transaction that rolled back wrote. */
  rolledBack(): void {
    this.#pendingKey = this.#pendingSeq = 0
  }

  /** Clears the mark (before a prune, which may delete the run it names). */
  clear(): void {
    if (this.#recordedKey !== 0) this.#write(0, 0)
  }

  /** Syncs and closes the sidecar (the store closes). */
  close(): void {
    try {
      fsyncSync(this.#fd)
    } finally {
      closeSync(this.#fd)
    }
  }

  #write(key: number, seq: number): void {
    writeSync(this.#fd, `${String(key).padStart(WIDTH, '0')} ${String(seq).padStart(WIDTH, '0')}\n`, 0)
    this.#recordedKey = key
    this.#recordedSeq = seq
  }
}

/** The run key and seq the sidecar holds, or undefined when there is none (or it is unreadable). */
function readRecorded(sidecar: string): { readonly key: number; readonly seq: number } | undefined {
  if (!existsSync(sidecar)) return undefined
  const [key, seq] = readFileSync(sidecar, 'utf8').trim().split(/\s+/).map(Number)
  return Number.isSafeInteger(key) && Number.isSafeInteger(seq) && (key as number) >= 0 && (seq as number) >= 0 ? { key: key as number, seq: seq as number } : undefined
}
