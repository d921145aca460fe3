/**
 * The engine's side of durable runs: the settings a run record keeps (so a resume runs the run
 * as it was started), the owner name of this process in leases, and the durability options.
 * @module
 */
import type { RunBudgetSpec } from '../core/rate.js'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { refuseUnknownOptions } from '../core/known-options.js'
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'
import type { NewRun, StoredRun } from '../core/store.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { toMs } from '../core/duration.js'
import type { Duration } from '../core/duration.js'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import type { RunStore } from '../core/store.js'

/** Durability settings of an engine with a store. */
export interface DurabilityOptions {
  /**
   * How long a run's lease lasts without renewal, in ms: after a crash another process may take
   * the run over once it has expired (a single-process store like SQLite needs no wait).
   * @default 30,000
   */
  readonly leaseTtlMs?: number
  /**
   * A task whose attempts started this many times without an outcome (each time the process
   * running it died) fails `TW_UNCERTAIN` on the next resume instead of running again. @default 3
   */
  readonly maxStartsWithoutOutcome?: number
  /** This engine's name in leases. @default host:pid:random */
  readonly owner?: string
  /**
   * Resume every unfinished run of the store right after the engine is created (what
   * `engine.resumeUnfinished()` does), and bring back the conversations' background work (what
   * `engine.background.recover()` does: state machines come back when they are listed in
   * `createEngine({ background: { machines } })`, else they end `TW_LOST`). Progress shows in
   * `engine.events`; failures go to the logger. @default false
   */
  readonly resumeOnStart?: boolean
  /**
   * Every this many ms, resume the store's unfinished runs whose owner's lease has expired (what
   * `engine.resumeUnfinished()` does): a standby process, or any owner that shares a PostgreSQL
   * store, takes over the runs of an owner that died. Off unless set. Taken-over runs show as
   * `run:taken-over` events.
   */
  readonly takeOverEvery?: Duration
  /**
   * How long finished runs are kept: older ones (and their journals) are pruned when the engine
   * starts and then, as runs finish, at most once an hour. @default kept until pruned (`taskweave prune`)
   */
  readonly retention?: Duration
  /**
   * How long durable runs wait for a store that refuses writes (read-only after a failover, a
   * full disk, a server down) before they stop. Meanwhile they start nothing new (what runs goes
   * on, its outcome kept until written), the engine emits `store:unavailable` and, once the store
   * takes writes again, `store:available`, and the runs go on by themselves. Stopped runs stay
   * unfinished in the store, to be resumed. @default '10m'
   */
  readonly storeOutageLimit?: Duration
}

/** Durability settings with their defaults applied. */
export interface ResolvedDurability {
  readonly resumeOnStart: boolean
  /** In ms; undefined keeps finished runs. */
  readonly retentionMs: number | undefined
  readonly leaseTtlMs: number
  readonly maxStartsWithoutOutcome: number
  readonly owner: string
  /** In ms; undefined: no periodic takeover. */
  readonly takeOverEveryMs: number | undefined
  /** In ms (may be Infinity). */
  readonly storeOutageLimitMs: number
}

/** The names {@link DurabilityOptions} has. */
const DURABILITY_OPTION_NAMES: readonly (keyof DurabilityOptions)[] = ['leaseTtlMs', 'maxStartsWithoutOutcome', 'owner', 'resumeOnStart', 'retention', 'storeOutageLimit', 'takeOverEvery']

/** Checks and completes {@link DurabilityOptions}. */
export function resolveDurability(options: DurabilityOptions = {}): ResolvedDurability {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('durability', 'an object of durability options', options)
  refuseUnknownOptions('createEngine', options, DURABILITY_OPTION_NAMES, 'durability.')
  const leaseTtlMs = options.leaseTtlMs ?? 30_000
  // Whole milliseconds: lease times are stored as integers (a PostgreSQL bigint).
  if (!(Number.isSafeInteger(leaseTtlMs) && leaseTtlMs >= 100)) throw new InvalidOptionError('durability.leaseTtlMs', 'a whole number of ms ≥ 100', leaseTtlMs)
  const maxStarts = options.maxStartsWithoutOutcome ?? 3
  if (!(Number.isInteger(maxStarts) && maxStarts >= 1)) throw new InvalidOptionError('durability.maxStartsWithoutOutcome', 'an integer ≥ 1', maxStarts)
  const takeOverEveryMs = options.takeOverEvery === undefined ? undefined : toMs('durability.takeOverEvery', options.takeOverEvery)
  if (takeOverEveryMs !== undefined && !(takeOverEveryMs >= 10)) throw new InvalidOptionError('durability.takeOverEvery', 'a duration ≥ 10 ms', options.takeOverEvery)
  const storeOutageLimitMs = options.storeOutageLimit === undefined ? 600_000 : options.storeOutageLimit === Infinity ? Infinity : toMs('durability.storeOutageLimit', options.storeOutageLimit)
  if (!(storeOutageLimitMs >= 0)) throw new InvalidOptionError('durability.storeOutageLimit', "a duration ≥ 0 ('10m'; 0 stops runs after the quick retries; Infinity waits for ever)", options.storeOutageLimit)
  return {
    resumeOnStart: options.resumeOnStart === true,
    storeOutageLimitMs,
    retentionMs: options.retention === undefined ? undefined : toMs('durability.retention', options.retention),
    leaseTtlMs,
    maxStartsWithoutOutcome: maxStarts,
    owner: options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    takeOverEveryMs,
  }
}

/** The settings of a run that its record keeps: what a resume needs to run it the same way. */
export interface StoredRunSettings {
  /** The run's own concurrency limit (absent: bounded by the engine's slots). */
  readonly concurrency?: number
  readonly failFast: boolean
  readonly groupScope?: 'engine' | 'run'
  /** The run's own budget (a run option; the workflow's is in its pinned definition). */
  readonly budget?: RunBudgetSpec
}

/** The record of a new durable run. */
export function newRunRecord(workflow: CompiledWorkflow, runId: string, inputs: unknown, settings: StoredRunSettings, labels: Readonly<Record<string, string>> | undefined, now: number): NewRun {
  return {
    runId,
    workflowId: workflow.id,
    workflowHash: workflow.hash,
    definition: workflow.snapshot,
    inputs: JSON.stringify(inputs),
    settings: JSON.stringify(settings),
    createdAt: now,
    ...(labels !== undefined ? { labels } : {}),
  }
}

/** Reads a stored run's settings and inputs back; throws `TW_STORE` naming the run when they cannot be read. */
export function readStoredRun(stored: StoredRun): { readonly definition: unknown; readonly inputs: Record<string, unknown>; readonly settings: StoredRunSettings } {
  try {
    const settings = JSON.parse(stored.settings) as StoredRunSettings
    return { definition: JSON.parse(stored.definition) as unknown, inputs: JSON.parse(stored.inputs) as Record<string, unknown>, settings }
  } catch (err) {
    throw new TaskweaveError('TW_STORE', `run "${stored.runId}" in the store cannot be read: ${err instanceof Error ? err.message : String(err)}`, { retryable: false, cause: err })
  }
}

/** Prunes finished runs older than the retention: now, then as runs finish, at most once an hour. */
export class RetentionPruner {
  readonly #store: RunStore
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #retentionMs: number
  #last = -Infinity
  #running = false

  constructor(store: RunStore, clock: Clock, logger: Logger, retentionMs: number) {
    this.#store = store
    this.#clock = clock
    this.#logger = logger
    this.#retentionMs = retentionMs
  }

  /** Prunes unless it did within the last hour (or the last retention period, if shorter). */
  tick(): void {
    const now = this.#clock.wallNow()
    if (this.#running || now - this.#last < Math.min(this.#retentionMs, 3_600_000)) return
    this.#last = now
    this.#running = true
    this.#store.prune({ finishedBefore: now - this.#retentionMs }).then(
      (removed) => {
        this.#running = false
        if (removed > 0) this.#logger.info('pruned finished runs past their retention', { store: this.#store.location, removed })
      },
      (err: unknown) => {
        this.#running = false
        this.#logger.warn('pruning finished runs failed', { store: this.#store.location, error: err instanceof Error ? err.message : String(err) })
      },
    )
  }
}
