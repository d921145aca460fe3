/**
 * The run store port: where durable runs keep their pinned definition, their lease and their
 * journal. The engine never snapshots a run's state; it appends the facts the scheduler cannot
 * recompute (an attempt started, succeeded with this output, failed and retries at that time, a
 * task was added, a handler settled, the run was stopped or finished) and resumes a run by
 * replaying them over the pinned definition.
 *
 * Every guarantee below is checked by the conformance suite in `taskweave/testing`
 * (`storeConformanceCases`), which the memory, SQLite and PostgreSQL adapters pass; a third-party
 * adapter runs the same suite.
 *
 * Times are wall-clock epoch milliseconds that the caller passes in (`clock.wallNow()`), so a
 * manual clock drives lease expiry in tests exactly as the system clock does in production.
 * @module
 */
import { InvalidOptionError } from './errors.js'
import { refuseUnknownOptions } from './known-options.js'
import { isStorableText, STORABLE_TEXT } from './storable-text.js'

/** What an engine writes when it accepts a durable run. */
export interface NewRun {
  /** The run's id (unique in the store). */
  readonly runId: string
  /** The workflow's `id`. */
  readonly workflowId: string
  /** SHA-256 of {@link definition}. */
  readonly workflowHash: string
  /** The pinned definition: canonical JSON text of the workflow the run executes. */
  readonly definition: string
  /** JSON text of the run's resolved inputs. */
  readonly inputs: string
  /** JSON text of the run settings that replay needs (concurrency, failFast, group scope, and what the caller adds, such as the CLI's tool modules). */
  readonly settings: string
  /** When the run was accepted (epoch ms). */
  readonly createdAt: number
  /** Free labels for listing (`source` file, `conversation` id…), as text. */
  readonly labels?: Readonly<Record<string, string>>
}

/** Asks for a lease on a run. */
export interface LeaseRequest {
  /** Names the process (or engine) that will own the run; renewals and appends must come from it. */
  readonly owner: string
  /** How long the lease lasts without renewal, in ms. */
  readonly ttlMs: number
  /**
   * The caller's wall time (epoch ms): the lease expires at `now + ttlMs`. A store with a clock of
   * its own may go by that instead (PostgreSQL does, by default); the `expiresAt` it returns says.
   */
  readonly now: number
}

/** What {@link RunStore.acquire} is asked: a lease, perhaps taken over from another owner. */
export interface AcquireRequest extends LeaseRequest {
  /**
   * On an exclusive store, take the lease even from another owner whose lease has not expired:
   * one process owns the store, so that owner is a process that died. Ignored by shared stores.
   */
  readonly takeOver?: boolean
  /**
   * Owners alive in the caller's process (other engines sharing the store object): their leases
   * are never taken over, whatever `takeOver` says.
   */
  readonly liveOwners?: readonly string[]
}

/** What {@link RunStore.reopen} is asked: a lease on the reopened run, and the `reopen` entry to write. */
export interface ReopenRequest extends LeaseRequest {
  /** The `reopen` entry's time (epoch ms) and data. */
  readonly entry: { readonly at: number; readonly data: string }
  /**
   * The seq of the journal's last entry as the caller read it (0: none): the run is reopened only
   * if nothing was written after it, since the entry names the tasks to retry from that reading
   * (another process's retry that ran and ended meanwhile has changed them); otherwise `reopen`
   * resolves undefined and writes nothing. Left out: no such check.
   */
  readonly afterSeq?: number
}

/** Ownership of one run: appends are accepted only with the current epoch. */
export interface Lease {
  readonly runId: string
  readonly owner: string
  /** 1 when the run is created, +1 each time another owner (or a resume) takes it. */
  readonly epoch: number
  /** Epoch ms after which another owner may take the run. */
  readonly expiresAt: number
}

/** Kinds of journal entries. */
export type JournalKind = 'start' | 'ok' | 'fail' | 'add' | 'handled' | 'stop' | 'finish' | 'park' | 'reopen'

/**
 * One fact of a run, in the order the run produced it (`seq`, from 1, gapless per run).
 * `data` is JSON text whose shape depends on `kind`:
 * - `start`: none (`taskId`, `attempt`);
 * - `ok`: the output (absent for a tool that returned nothing); `added`: the specs the tool added;
 * - `fail`: `{ error, retryAt? }`, where `retryAt` (epoch ms) is set when a retry is due;
 * - `add`: the spec of a task added by a handler or the run handle (`taskId` = the adding task, if any);
 * - `handled`: none (`taskId` = the task whose completion handler settled);
 * - `stop`: `{ status, reason }` (a cancel or failFast in progress);
 * - `finish`: `{ status, counts }` (the run ended; the store marks it finished);
 * - `park`: `{ reason }` (`taskId`, `attempt`): the attempt's outcome is unknown and the task waits
 *   for an operator's decision, an `ok` or `fail` entry of the same attempt, before the run goes on;
 * - `reopen`: `{ by, tasks: [{ taskId, attempt }] }`: an operator retried a run that had ended
 *   `failed`, `partial` or `cancelled` (written by {@link RunStore.reopen}): the stop before it no
 *   longer holds, and each listed task's failed `attempt` is followed by another, with its retry
 *   budget whole again.
 */
export interface JournalEntry {
  readonly seq: number
  readonly kind: JournalKind
  readonly taskId?: string
  readonly attempt?: number
  /** Wall time of the fact (epoch ms). */
  readonly at: number
  readonly data?: string
  readonly added?: string
}

/** Entries of one run for {@link RunStore.append}, fenced by the epoch of the writer's lease. */
export interface JournalBatch {
  readonly runId: string
  readonly epoch: number
  readonly entries: readonly JournalEntry[]
}

/** What {@link RunStore.append} did. */
export interface AppendResult {
  /** Runs whose batch was refused because their lease's epoch moved on (another owner took them). */
  readonly fenced: readonly string[]
}

/** The status a store keeps for a run. */
export type StoredRunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled'

/** One run as {@link RunStore.list} returns it. */
export interface RunSummary {
  readonly runId: string
  readonly workflowId: string
  readonly workflowHash: string
  readonly status: StoredRunStatus
  readonly createdAt: number
  /** When the `finish` entry was written; undefined while the run is unfinished. */
  readonly finishedAt: number | undefined
  /** Task counts by status from the `finish` entry (`{ succeeded: 3, failed: 1 }`); empty while unfinished. */
  readonly counts: Readonly<Record<string, number>>
  readonly labels: Readonly<Record<string, string>>
  /** The current lease (an unfinished run), or undefined. */
  readonly lease: Lease | undefined
}

/** One run with everything needed to resume it or to report on it. */
export interface StoredRun extends RunSummary {
  readonly definition: string
  readonly inputs: string
  readonly settings: string
  /** The journal, in `seq` order. */
  readonly entries: readonly JournalEntry[]
}

/** Filters of {@link RunStore.list}; newest first. */
export interface RunFilter {
  readonly status?: StoredRunStatus | readonly StoredRunStatus[]
  readonly workflowId?: string
  /** Only runs created at or after this time (epoch ms). */
  readonly since?: number
  /** Only runs carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>
  /** At most this many. @default 100 */
  readonly limit?: number
}

/** Options of {@link RunStore.prune}. */
export interface PruneOptions {
  /** Removes finished runs whose `finish` entry is older than this (epoch ms). Unfinished runs are never pruned. */
  readonly finishedBefore: number
  /** Only runs carrying all these labels. */
  readonly labels?: Readonly<Record<string, string>>
}

/**
 * Durable storage of runs. Every method may be called concurrently; each is atomic.
 * Errors carry a code: `TW_STORE` (the storage failed: unreachable, corrupt, full — the message
 * names the file or URL), `TW_STORE_CONFLICT` (a run id that exists), `TW_STORE_NOT_FOUND`.
 */
export interface RunStore {
  /** `memory`, `sqlite`, `postgres`, or an adapter's own name. */
  readonly kind: string
  /** Where the data lives, for messages (`./.taskweave/runs.db`, a URL without its password). */
  readonly location: string
  /**
   * True when one process at a time owns the whole store (the SQLite file lock): a lease held by
   * another owner can then only be a dead process's, and {@link acquire} with `takeOver` may take it
   * before it expires.
   */
  readonly exclusive: boolean
  /**
   * The time leases go by (epoch ms), where the store times them by a clock of its own (PostgreSQL
   * with `leaseClock: 'server'`): a caller that compares a lease's `expiresAt` itself (to pass over
   * live owners' runs, or to find expired ones) asks for it, so a local clock that lags or runs
   * ahead of the store's neither delays a takeover nor starts one early. Absent where leases go by
   * the `now` each call passes.
   */
  readonly now?: () => Promise<number>
  /**
   * Records a new run with a lease (epoch 1) for `lease.owner`, atomically.
   * Throws `TW_STORE_CONFLICT` when the run id exists.
   */
  createRun(run: NewRun, lease: LeaseRequest): Promise<Lease>
  /**
   * Takes the lease of an unfinished run: granted when the lease has expired at `lease.now`, is
   * already `lease.owner`'s, was released, or (with `takeOver` on an exclusive store) is held by
   * an owner not among `liveOwners`; the epoch is then one more than before, which fences every
   * append of the previous owner.
   * Resolves undefined when another owner holds an unexpired lease or the run is finished.
   * Throws `TW_STORE_NOT_FOUND` when there is no such run.
   */
  acquire(runId: string, lease: AcquireRequest): Promise<Lease | undefined>
  /**
   * Extends many leases in one round trip to `now + ttlMs`. Resolves the ids of the runs whose
   * lease is no longer the caller's (another epoch, or finished): their owner must stop writing.
   */
  renew(leases: readonly Lease[], now: number, ttlMs: number): Promise<readonly string[]>
  /**
   * Ends leases without finishing their runs (a graceful shutdown), so another process may
   * resume them at once. A lease that is no longer current is ignored.
   */
  release(leases: readonly Lease[]): Promise<void>
  /**
   * Appends the batches of many runs in one transaction. A batch whose epoch is not its run's
   * current epoch (or whose run is finished or unknown) is refused and named in `fenced`; the
   * others are all durable when the promise resolves, or none is when it rejects. Entries must
   * continue their run's `seq` without a gap: a gap or a repeat rejects the whole append. A
   * `finish` entry marks the run finished (status, counts, finishedAt) in the same transaction.
   */
  append(batches: readonly JournalBatch[]): Promise<AppendResult>
  /**
   * Reopens a run that ended `failed`, `partial` or `cancelled`, atomically: it is `running`
   * again (no finish time or counts), under a new lease (epoch + 1) for `request.owner`, and a
   * `reopen` entry with `request.entry` continues its journal. Resolves undefined, changing
   * nothing, when the run is running or succeeded; rejects `TW_STORE_NOT_FOUND` when there is
   * none. Optional for a third party's store: without it, `engine.retry()` is refused.
   */
  reopen?(runId: string, request: ReopenRequest): Promise<Lease | undefined>
  /** The run with its journal, or undefined. */
  load(runId: string): Promise<StoredRun | undefined>
  /** Runs matching `filter`, newest first. */
  list(filter?: RunFilter): Promise<readonly RunSummary[]>
  /** Removes finished runs older than `options.finishedBefore` with their journals; resolves how many. */
  prune(options: PruneOptions): Promise<number>
  /** Finishes pending writes and releases the storage (the SQLite file lock, the pool). Idempotent. */
  close(): Promise<void>
}

const STORED_RUN_STATUSES: readonly string[] = ['running', 'succeeded', 'partial', 'failed', 'cancelled']

/**
 * Throws `TW_INVALID_OPTION` for a {@link RunFilter} a store cannot apply (an unknown name, a status
 * no run has, a limit that is not a positive whole number): a filter taken as given would list
 * nothing, or everything. Every store checks its `list` filter this way.
 */
export function checkRunFilter(filter: RunFilter | undefined): void {
  if (filter === undefined) return
  refuseUnknownOptions('list', filter, ['status', 'workflowId', 'since', 'labels', 'limit'])
  const statuses: readonly unknown[] = filter.status === undefined ? [] : Array.isArray(filter.status) ? filter.status : [filter.status]
  for (const status of statuses) if (typeof status !== 'string' || !STORED_RUN_STATUSES.includes(status)) throw new InvalidOptionError('status', `one of ${STORED_RUN_STATUSES.join(', ')}`, status)
  if (filter.workflowId !== undefined && typeof filter.workflowId !== 'string') throw new InvalidOptionError('workflowId', 'a string', filter.workflowId)
  if (filter.since !== undefined && !Number.isFinite(filter.since)) throw new InvalidOptionError('since', 'a time in epoch ms', filter.since)
  if (filter.limit !== undefined && filter.limit !== Infinity && !(Number.isSafeInteger(filter.limit) && filter.limit > 0)) throw new InvalidOptionError('limit', 'a whole number above 0, or Infinity', filter.limit)
  checkLabels(filter.labels)
}

/** Throws `TW_INVALID_OPTION` for {@link PruneOptions} a store cannot apply (missing, or without a finite `finishedBefore`). */
export function checkPruneOptions(options: PruneOptions): void {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('prune', 'an object { finishedBefore, labels? }', options)
  refuseUnknownOptions('prune', options, ['finishedBefore', 'labels'])
  if (!Number.isFinite(options.finishedBefore)) throw new InvalidOptionError('finishedBefore', 'a time in epoch ms', options.finishedBefore)
  checkLabels(options.labels)
}

/**
 * Throws `TW_INVALID_OPTION` for labels (a run's, or a filter's) that are not an object of text
 * every store keeps: names and values without U+0000 or an unpaired surrogate (see
 * {@link isStorableText}), so a label behaves the same on every store.
 */
export function checkLabels(labels: unknown): void {
  if (labels === undefined) return
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw new InvalidOptionError('labels', 'an object of string values', labels)
  for (const [name, value] of Object.entries(labels)) {
    if (!isStorableText(name)) throw new InvalidOptionError('labels', `an object whose names are ${STORABLE_TEXT}`, name)
    if (typeof value !== 'string') throw new InvalidOptionError(`labels.${name}`, 'a string', value)
    if (!isStorableText(value)) throw new InvalidOptionError(`labels.${name}`, STORABLE_TEXT, value)
  }
}

