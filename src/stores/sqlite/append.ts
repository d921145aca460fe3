/**
 * `append`: the batches of many runs in one transaction, on the database thread. Each batch is
 * fenced by its run's current epoch, read in the same transaction that writes, so a writer whose
 * lease moved on can never slip an entry in. Sequence numbers must continue each run's journal
 * without a gap or a repeat; one that does not throws, and the transaction takes back everything
 * the call wrote, other runs included. A `finish` entry closes its run (status, counts, finish
 * time, no lease) in the same transaction.
 *
 * Rows go in {@link ENTRIES_PER_INSERT} at a time (one multi-row statement), the rest one by one:
 * a group commit's dependents wait for it, and a statement per row was most of its time.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { AppendResult, JournalBatch, JournalEntry } from '../../core/store.js'
import { finishOf } from '../shared.js'
import { entryChecksum } from './checksum.js'
import { kindCode } from './journal-codec.js'
import { ENTRIES_PER_INSERT } from './statements.js'
import type { Statements } from './statements.js'

/** Parameters of one journal row, as `insertEntry` binds them. */
const ROW_WIDTH = 9

/**
 * Appends `batches` in one transaction; returns the runs whose batch was fenced. `wrote` hears
 * each run written and its last entry (the newest commit's place, see commit-mark.ts).
 */
export function append(sql: Statements, batches: readonly JournalBatch[], wrote: (key: number, seq: number) => void = () => undefined): AppendResult {
  return sql.transaction(() => {
    const fenced: string[] = []
    // A run may come twice in one call: its second batch continues after its first.
    const nextSeq = new Map<number, number>()
    const rows = new RowWriter(sql)
    for (const batch of batches) {
      const run = sql.fenceOf.get(batch.runId)
      if (run === undefined || run[1] !== 'running' || run[2] !== batch.epoch) {
        fenced.push(batch.runId)
        continue
      }
      const key = run[0]
      let next = nextSeq.get(key) ?? (sql.lastSeq.get(key) ?? 0) + 1
      for (const entry of batch.entries) {
        if (entry.seq !== next) {
          throw new TaskweaveError('TW_STORE', `journal of run "${batch.runId}": entry ${entry.seq} appended where ${next} was due; nothing of this append was written`, { retryable: false, details: { runId: batch.runId } })
        }
        rows.add(key, batch.runId, entry)
        next++
      }
      nextSeq.set(key, next)
      if (batch.entries.length > 0) wrote(key, next - 1)
    }
    rows.flush()
    return { fenced }
  })
}

/** Collects rows and writes them {@link ENTRIES_PER_INSERT} at a time; a `finish` closes its run at once. */
class RowWriter {
  readonly #sql: Statements
  readonly #params: unknown[] = []
  #rows = 0

  constructor(sql: Statements) {
    this.#sql = sql
  }

  add(key: number, runId: string, entry: JournalEntry): void {
    const kind = kindCode(entry.kind)
    if (kind === undefined) throw new TaskweaveError('TW_STORE', `journal of run "${runId}": entry ${entry.seq} has an unknown kind ${JSON.stringify(entry.kind)}`, { retryable: false, details: { runId } })
    const taskId = entry.taskId ?? null
    const attempt = entry.attempt ?? null
    const data = entry.data ?? null
    const added = entry.added ?? null
    this.#params.push(key, entry.seq, kind, taskId, attempt, entry.at, data, added, entryChecksum(entry.seq, kind, taskId, attempt, entry.at, data, added))
    if (++this.#rows === ENTRIES_PER_INSERT) {
      this.#sql.insertEntries.run(this.#params)
      this.#params.length = 0
      this.#rows = 0
    }
    if (entry.kind === 'finish') {
      const { status, counts } = finishOf(entry)
      this.#sql.finishRun.run(status, JSON.stringify(counts), entry.at, key)
    }
  }

  /** Writes the rows left (fewer than a full statement's), one by one. */
  flush(): void {
    const params = this.#params
    for (let at = 0; at < params.length; at += ROW_WIDTH) this.#sql.insertEntry.run(params.slice(at, at + ROW_WIDTH))
    params.length = 0
    this.#rows = 0
  }
}
