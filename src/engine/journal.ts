/**
 * The engine's journal: one per engine, shared by its durable runs. Runs append entries; the
 * journal writes them to the store with **group commit without a timer**: a flush starts on the
 * microtask after the first entry, and while a commit is in flight new entries accumulate and go
 * in the next one, which starts as soon as the previous returns. A busy engine's batches thus grow
 * by themselves and one transaction carries every run's entries, while a lone entry waits only
 * for one commit.
 *
 * After a commit each run hears up to which `seq` its entries are durable (so it can let the
 * dependents of a finished task start); a run whose lease moved on hears that it was fenced, and
 * every run in a commit that failed hears the error (after a bounded, reported retry).
 *
 * The journal also renews its runs' leases, all in one call, every third of the lease's life.
 * @module
 */
import type { CancelTimer, Clock } from '../core/clock.js'
import { TaskweaveError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { JournalBatch, JournalEntry, JournalKind, Lease, RunStore } from '../core/store.js'
import { describeThrown } from '../core/thrown.js'
import { crashPoint } from '../core/crash-point.js'

/** What a durable run hears from the journal. */
export interface JournalListener {
  /** Every entry up to `seq` is durable. */
  durable(seq: number): void
  /** The run's lease is gone (another owner took it, or the store says it is finished): stop writing. */
  fenced(reason: string): void
  /** The store failed and the journal gave up on this run's pending entries. */
  failed(error: TaskweaveError): void
}

/** An entry as a run hands it over: the journal numbers it. */
export interface NewEntry {
  readonly kind: JournalKind
  readonly taskId?: string
  readonly attempt?: number
  readonly data?: string
  readonly added?: string
}

/** Settings of the journal. */
export interface JournalOptions {
  readonly store: RunStore
  readonly clock: Clock
  readonly logger: Logger
  /** This engine's owner name in leases. */
  readonly owner: string
  /** Lease lifetime, ms. */
  readonly leaseTtlMs: number
  /** Most entries in one append. @default 20,000 */
  readonly maxBatchEntries?: number
  /** Tries of a failing append before the runs in it are failed. @default 4 */
  readonly maxTries?: number
}

/** One run's place in the journal. */
export class JournalRun {
  readonly runId: string
  lease: Lease
  /** Seq of the last entry handed over. */
  lastSeq: number
  /** Entries not yet in a flush. */
  pending: JournalEntry[] = []
  readonly listener: JournalListener
  /** False once fenced or failed: later entries are dropped. */
  open = true

  constructor(lease: Lease, lastSeq: number, listener: JournalListener) {
    this.runId = lease.runId
    this.lease = lease
    this.lastSeq = lastSeq
    this.listener = listener
  }
}

/** The engine's journal. */
export class Journal {
  readonly #options: JournalOptions
  readonly #runs = new Map<string, JournalRun>()
  /** Runs with entries waiting for the next flush, in the order they first appended. */
  readonly #dirty = new Set<JournalRun>()
  #flushing = false
  #scheduled = false
  #renewTimer: CancelTimer | undefined
  #idle: (() => void)[] = []
  /** Suspended runs whose leases the next releaseAll gives up. */
  #released: JournalRun[] = []

  constructor(options: JournalOptions) {
    this.#options = options
  }

  /** The store the journal writes to. */
  get store(): RunStore {
    return this.#options.store
  }

  /** Joins a run holding `lease`, whose journal already holds `lastSeq` entries. */
  join(lease: Lease, lastSeq: number, listener: JournalListener): JournalRun {
    const run = new JournalRun(lease, lastSeq, listener)
    this.#runs.set(run.runId, run)
    this.#armRenewal()
    return run
  }

  /**
   * Leaves: the run ended (its `finish` is durable), or was suspended (`release`: its lease is
   * given up by the next {@link releaseAll}, so another process may resume it at once).
   */
  leave(run: JournalRun, release = false): void {
    if (release && run.open && this.#runs.has(run.runId)) this.#released.push(run)
    this.#runs.delete(run.runId)
    if (this.#runs.size === 0) {
      this.#renewTimer?.()
      this.#renewTimer = undefined
    }
  }

  /** Appends an entry for `run`; resolves nothing: the run hears `durable(seq)`. Returns its seq. */
  append(run: JournalRun, entry: NewEntry): number {
    const seq = ++run.lastSeq
    if (!run.open) return seq
    run.pending.push({ seq, at: this.#options.clock.wallNow(), ...entry })
    this.#dirty.add(run)
    if (!this.#flushing && !this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(() => {
        this.#scheduled = false
        void this.#flush()
      })
    }
    return seq
  }

  /** Resolves once nothing is waiting to be written. */
  drained(): Promise<void> {
    if (!this.#flushing && !this.#scheduled && this.#dirty.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** Gives up the leases of the runs still joined (a graceful stop): another process may resume them at once. */
  async releaseAll(): Promise<void> {
    await this.drained()
    const leases = [...this.#runs.values(), ...this.#released].filter((run) => run.open).map((run) => run.lease)
    this.#runs.clear()
    this.#released = []
    this.#renewTimer?.()
    this.#renewTimer = undefined
    if (leases.length > 0) await this.#options.store.release(leases)
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#dirty.size > 0) {
        const { batches, runs } = this.#takeBatch()
        await this.#commit(batches, runs)
      }
    } finally {
      this.#flushing = false
      const idle = this.#idle
      this.#idle = []
      for (const resolve of idle) resolve()
    }
  }

  /** Takes up to `maxBatchEntries` entries, whole runs first (a run's entries keep their order). */
  #takeBatch(): { batches: JournalBatch[]; runs: JournalRun[] } {
    const max = this.#options.maxBatchEntries ?? 20_000
    const batches: JournalBatch[] = []
    const runs: JournalRun[] = []
    let taken = 0
    for (const run of this.#dirty) {
      if (taken >= max) break
      const room = max - taken
      const entries = run.pending.length <= room ? run.pending : run.pending.slice(0, room)
      run.pending = run.pending.length <= room ? [] : run.pending.slice(room)
      if (run.pending.length === 0) this.#dirty.delete(run)
      taken += entries.length
      if (!run.open) continue
      batches.push({ runId: run.runId, epoch: run.lease.epoch, entries })
      runs.push(run)
    }
    return { batches, runs }
  }

  async #commit(batches: JournalBatch[], runs: JournalRun[]): Promise<void> {
    if (batches.length === 0) return
    const maxTries = this.#options.maxTries ?? 4
    let lastError: unknown
    for (let attempt = 1; attempt <= maxTries; attempt++) {
      try {
        crashPoint('journal.beforeAppend')
        const { fenced } = await this.#options.store.append(batches)
        crashPoint('journal.afterAppend')
        const fencedIds = new Set(fenced)
        for (const [k, run] of runs.entries()) {
          const batch = batches[k] as JournalBatch
          if (fencedIds.has(run.runId)) {
            this.#close(run)
            run.listener.fenced(`run "${run.runId}" is now owned elsewhere (lease epoch ${run.lease.epoch} is no longer current)`)
          } else {
            const last = batch.entries[batch.entries.length - 1]
            if (last !== undefined) run.listener.durable(last.seq)
          }
        }
        return
      } catch (err) {
        lastError = err
        // A rejected append wrote nothing; the same entries can be offered again.
        if (attempt < maxTries) {
          const delayMs = Math.min(2_000, 100 * 2 ** (attempt - 1))
          this.#options.logger.warn('the run store refused a journal append; trying again', { store: this.#options.store.location, attempt, delayMs, error: describeThrown(err) })
          await new Promise<void>((resolve) => this.#options.clock.setTimer(delayMs, resolve))
        }
      }
    }
    const error = TaskweaveError.is(lastError, 'TW_STORE')
      ? lastError
      : new TaskweaveError('TW_STORE', `the run store (${this.#options.store.location}) failed: ${describeThrown(lastError)}`, { retryable: false, cause: lastError })
    this.#options.logger.error('the run store failed; the runs writing to it stop', { store: this.#options.store.location, runs: runs.length, error: error.message })
    for (const run of runs) {
      this.#close(run)
      run.listener.failed(error)
    }
  }

  #close(run: JournalRun): void {
    run.open = false
    run.pending = []
    this.#dirty.delete(run)
    this.#runs.delete(run.runId)
  }

  #armRenewal(): void {
    if (this.#renewTimer !== undefined) return
    const every = Math.max(10, Math.floor(this.#options.leaseTtlMs / 3))
    const tick = (): void => {
      this.#renewTimer = undefined
      const runs = [...this.#runs.values()].filter((run) => run.open)
      if (runs.length === 0) return
      const now = this.#options.clock.wallNow()
      this.#options.store.renew(runs.map((run) => run.lease), now, this.#options.leaseTtlMs).then(
        (lost) => {
          const lostIds = new Set(lost)
          for (const run of runs) {
            if (lostIds.has(run.runId)) {
              if (!run.open) continue
              this.#close(run)
              run.listener.fenced(`run "${run.runId}" lost its lease`)
            } else run.lease = { ...run.lease, expiresAt: now + this.#options.leaseTtlMs }
          }
        },
        (err: unknown) => this.#options.logger.warn('renewing run leases failed; trying again', { store: this.#options.store.location, error: describeThrown(err) }),
      )
      if (this.#runs.size > 0) this.#armRenewal()
    }
    this.#renewTimer = this.#options.clock.setTimer(every, tick)
  }
}
