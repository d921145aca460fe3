/**
 * `append`: the batches of many runs in one transaction, in a fixed number of statements.
 *
 * 1. Lock the rows of every run named, in `key` order, in one `SELECT … FOR UPDATE`: from here on
 *    no other writer can move a run's epoch, finish it, or append to it.
 * 2. Read each live run's last `seq` in a second statement. It must come after the lock: under
 *    READ COMMITTED a statement reads the snapshot it started with, so a last seq read in the
 *    locking statement could miss entries another append committed while this one waited.
 * 3. In memory: a batch whose run is unknown, finished or at another epoch is fenced (skipped and
 *    reported); the others must continue their run's seq without a gap or a repeat, else the
 *    whole append is refused and rolled back.
 * 4. Insert every accepted entry with multi-row inserts (`INSERT … SELECT FROM unnest(arrays)`),
 *    one statement per chunk of rows, never one per row.
 * 5. Apply the `finish` entries to their runs (status, counts, finishedAt, lease cleared) in one
 *    statement, in the same transaction.
 * @module
 */
import { TaskweaveError } from '../../../core/errors.js'
import type { AppendResult, JournalBatch, StoredRunStatus } from '../../../core/store.js'
import { finishOf } from '../../shared.js'
import { kindCode } from '../codec.js'
import type { PostgresConnection, Queryable } from '../connection.js'
import type { Tables } from '../tables.js'

/** Most rows in one INSERT; a larger append is split into several statements of the same transaction. */
const CHUNK_ROWS = 5_000
/** Most characters of entry text (data and added) in one INSERT, so that large outputs do not make one huge message. */
const CHUNK_CHARS = 8 * 1024 * 1024

interface LockedRun {
  readonly key: number
  readonly run_id: string
  readonly status: StoredRunStatus
  readonly lease_epoch: number
}

/** The columns of journal rows to insert, one array per column (as `unnest` takes them). */
interface Columns {
  readonly runKey: number[]
  readonly seq: number[]
  readonly kind: number[]
  readonly taskId: (string | null)[]
  readonly attempt: (number | null)[]
  readonly at: number[]
  readonly data: (string | null)[]
  readonly added: (string | null)[]
  chars: number
}

interface Finish {
  readonly key: number
  readonly status: StoredRunStatus
  readonly counts: string
  readonly at: number
}

/** Appends `batches` atomically; see the module header for the steps. */
export async function append(db: PostgresConnection, batches: readonly JournalBatch[]): Promise<AppendResult> {
  if (batches.length === 0) return { fenced: [] }
  const t = db.tables
  return db.transaction('append', async (tx) => {
    const runIds = [...new Set(batches.map((batch) => batch.runId))]
    const locked = await tx.rows<LockedRun>(`SELECT key, run_id, status, lease_epoch FROM ${t.runs} WHERE run_id = ANY($1::text[]) ORDER BY key FOR UPDATE`, [runIds], 'tw_append_lock')
    const byId = new Map(locked.map((run) => [run.run_id, run]))
    const nextSeq = await nextSeqs(tx, t, locked.filter((run) => run.status === 'running'))

    const fenced: string[] = []
    const chunks: Columns[] = [emptyColumns()]
    const finishes: Finish[] = []
    for (const batch of batches) {
      const run = byId.get(batch.runId)
      if (run === undefined || run.status !== 'running' || run.lease_epoch !== batch.epoch) {
        fenced.push(batch.runId)
        continue
      }
      let next = nextSeq.get(run.key) ?? 1
      for (const entry of batch.entries) {
        if (entry.seq !== next) {
          throw new TaskweaveError('TW_STORE', `journal of run "${batch.runId}": entry ${entry.seq} appended where ${next} was due`, { retryable: false, details: { runId: batch.runId, location: db.location } })
        }
        next++
        let columns = chunks[chunks.length - 1] as Columns
        if (columns.seq.length >= CHUNK_ROWS || columns.chars >= CHUNK_CHARS) chunks.push((columns = emptyColumns()))
        columns.runKey.push(run.key)
        columns.seq.push(entry.seq)
        columns.kind.push(kindCode(entry.kind))
        columns.taskId.push(entry.taskId ?? null)
        columns.attempt.push(entry.attempt ?? null)
        columns.at.push(entry.at)
        columns.data.push(entry.data ?? null)
        columns.added.push(entry.added ?? null)
        columns.chars += (entry.data?.length ?? 0) + (entry.added?.length ?? 0)
        if (entry.kind === 'finish') {
          const finish = finishOf(entry)
          finishes.push({ key: run.key, status: finish.status, counts: JSON.stringify(finish.counts), at: entry.at })
        }
      }
      nextSeq.set(run.key, next)
    }

    for (const columns of chunks) {
      if (columns.seq.length === 0) continue
      await tx.rows(
        `INSERT INTO ${t.journal} (run_key, seq, kind, task_id, attempt, at, data, added)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::smallint[], $4::text[], $5::int[], $6::bigint[], $7::text[], $8::text[])`,
        [columns.runKey, columns.seq, columns.kind, columns.taskId, columns.attempt, columns.at, columns.data, columns.added],
        'tw_append_insert',
      )
    }
    if (finishes.length > 0) await applyFinishes(tx, t, finishes)
    return { fenced }
  })
}

/** The seq due next for each run (1 for an empty journal), read under the row locks. */
async function nextSeqs(tx: Queryable, t: Tables, runs: readonly LockedRun[]): Promise<Map<number, number>> {
  const next = new Map<number, number>()
  if (runs.length === 0) return next
  // One backward step on the primary key per run, however long its journal.
  const rows = await tx.rows<{ key: number; last: number | null }>(
    `SELECT k.key, (SELECT seq FROM ${t.journal} WHERE run_key = k.key ORDER BY seq DESC LIMIT 1) AS last FROM unnest($1::bigint[]) AS k(key)`,
    [runs.map((run) => run.key)],
    'tw_append_next_seq',
  )
  for (const row of rows) next.set(row.key, (row.last ?? 0) + 1)
  return next
}

/** Marks runs finished. A run finished twice in one append keeps the last finish (the rows are applied in order). */
async function applyFinishes(tx: Queryable, t: Tables, finishes: readonly Finish[]): Promise<void> {
  const last = new Map<number, Finish>()
  for (const finish of finishes) last.set(finish.key, finish)
  const rows = [...last.values()]
  await tx.rows(
    `UPDATE ${t.runs} r SET status = f.status, counts = f.counts::jsonb, finished_at = f.at, lease_owner = NULL, lease_expires_at = NULL
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS f(key, status, counts, at)
     WHERE r.key = f.key`,
    [rows.map((f) => f.key), rows.map((f) => f.status), rows.map((f) => f.counts), rows.map((f) => f.at)],
  )
}

function emptyColumns(): Columns {
  return { runKey: [], seq: [], kind: [], taskId: [], attempt: [], at: [], data: [], added: [], chars: 0 }
}
