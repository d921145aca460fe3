/**
 * `append`: the batches of many runs in one transaction and one round trip, through the
 * `tw_append` function (migration 2), which:
 *
 * 1. locks the rows of every run named, in `key` order (`SELECT … FOR UPDATE`): from there on no
 *    other writer can move a run's epoch, finish it, or append to it;
 * 2. fences a batch whose run is unknown, finished or at another epoch (skipped, and its run id
 *    returned);
 * 3. checks that each other batch continues its run's seq (its last seq read after the locks, in a
 *    fresh snapshot), else raises and nothing is written;
 * 4. inserts every accepted entry in one `INSERT … SELECT FROM unnest(arrays)`;
 * 5. applies the `finish` entries (status, counts, finishedAt, lease cleared).
 *
 * Called alone, the function is its own transaction: a group commit costs one round trip. What
 * can be checked without the database (each batch's seqs consecutive, a `finish` entry well
 * formed) is checked here first. The column arrays go as array literals written here
 * (`array-literal.ts`): `pg`'s generic encoder cost twice as much on the caller's thread, and
 * every dependent of a task in the batch waits for the commit.
 * @module
 */
import { TaskweaveError } from '../../../core/errors.js'
import type { AppendResult, JournalBatch } from '../../../core/store.js'
import { finishOf } from '../../shared.js'
import { integerArray, sparseTextArray, textArray } from '../array-literal.js'
import { kindCode } from '../codec.js'
import type { PostgresConnection } from '../connection.js'
import { sqlStateOf } from '../errors.js'

/** The function's arguments, one array per column. */
interface Arguments {
  readonly runIds: string[]
  readonly epochs: number[]
  readonly firstSeqs: (number | null)[]
  readonly e: { batch: number[]; seq: number[]; kind: number[]; task: (string | null)[]; attempt: (number | null)[]; at: number[]; data: (string | null)[]; added: (string | null)[] }
  readonly f: { batch: number[]; status: string[]; counts: string[]; at: number[] }
}

/** Appends `batches` atomically; see the module header for the steps. */
export async function append(db: PostgresConnection, batches: readonly JournalBatch[]): Promise<AppendResult> {
  if (batches.length === 0) return { fenced: [] }
  const { runIds, epochs, firstSeqs, e, f } = argumentsOf(db, batches)
  try {
    const rows = await db.rows<{ fenced: string[] }>(
      'append',
      `SELECT ${db.tables.schema}.tw_append($1::text[], $2::int[], $3::int[], $4::int[], $5::int[], $6::smallint[], $7::text[], $8::int[], $9::bigint[], $10::text[], $11::text[], $12::int[], $13::text[], $14::text[], $15::bigint[]) AS fenced`,
      [
        textArray(runIds),
        integerArray(epochs),
        integerArray(firstSeqs),
        integerArray(e.batch),
        integerArray(e.seq),
        integerArray(e.kind),
        textArray(e.task),
        integerArray(e.attempt),
        integerArray(e.at),
        sparseTextArray(e.data),
        sparseTextArray(e.added),
        integerArray(f.batch),
        textArray(f.status),
        textArray(f.counts),
        integerArray(f.at),
      ],
      true,
    )
    return { fenced: rows[0]?.fenced ?? [] }
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause
    if (sqlStateOf(cause) === 'TWSEQ') {
      const message = (cause as { message?: unknown }).message
      throw new TaskweaveError('TW_STORE', `PostgreSQL store ${db.location}: ${typeof message === 'string' ? message : 'journal entries out of order'}`, { retryable: false, cause: err, details: { location: db.location } })
    }
    throw err
  }
}

function argumentsOf(db: PostgresConnection, batches: readonly JournalBatch[]): Arguments {
  const args: Arguments = {
    runIds: [],
    epochs: [],
    firstSeqs: [],
    e: { batch: [], seq: [], kind: [], task: [], attempt: [], at: [], data: [], added: [] },
    f: { batch: [], status: [], counts: [], at: [] },
  }
  const { e, f } = args
  for (const batch of batches) {
    args.runIds.push(batch.runId)
    args.epochs.push(batch.epoch)
    const b = args.runIds.length
    const first = batch.entries[0]
    args.firstSeqs.push(first === undefined ? null : first.seq)
    let next = first?.seq ?? 0
    for (const entry of batch.entries) {
      if (entry.seq !== next) {
        throw new TaskweaveError('TW_STORE', `journal of run "${batch.runId}": entry ${entry.seq} appended where ${next} was due`, { retryable: false, details: { runId: batch.runId, location: db.location } })
      }
      next++
      e.batch.push(b)
      e.seq.push(entry.seq)
      e.kind.push(kindCode(entry.kind))
      e.task.push(entry.taskId ?? null)
      e.attempt.push(entry.attempt ?? null)
      e.at.push(entry.at)
      e.data.push(entry.data ?? null)
      e.added.push(entry.added ?? null)
      if (entry.kind === 'finish') {
        const finish = finishOf(entry)
        f.batch.push(b)
        f.status.push(finish.status)
        f.counts.push(JSON.stringify(finish.counts))
        f.at.push(entry.at)
      }
    }
  }
  return args
}
