/**
 * The engine's journal: one per engine, shared by its durable runs. Runs append entries; the
 * journal writes them to the store with **group commit without a timer**: a flush starts on the
 * next turn of the event loop after the first entry (so the completions that arrive as promise
 * callbacks in the same turn join it), and while a commit is in flight new entries accumulate and
 * go in the next one, which starts on the turn after the previous returns. A busy engine's batches
 * thus grow by themselves and one transaction carries every run's entries, while a lone entry
 * waits only for one commit.
 *
 * An attempt's `start` and its outcome taken in the same batch are written as the outcome alone:
 * the `start` exists to tell, after a crash, that an attempt may have run without an outcome, and
 * an outcome committed with it says more. Store sequence numbers are given when a batch is taken,
 * so they stay gapless; what a run holds is a ticket per entry it appended.
 *
 * After a commit each run hears up to which ticket its entries are durable (so it can let the
 * dependents of a finished task start); a run whose lease moved on hears that it was fenced, and
 * every run in a commit that failed hears the error (after a bounded, reported retry).
 *
 * The journal also renews its runs' leases, all in one call, every third of the lease's life.
 * @module
 */
import { ClockJumpWatch, describeJump } from './clock-jump.js'
import type { CancelTimer, Clock } from '../core/clock.js'
import { TaskweaveError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { JournalBatch, JournalEntry, JournalKind, Lease, RunStore } from '../core/store.js'
import { describeThrown } from '../core/thrown.js'
import { crashPoint } from '../core/crash-point.js'

/** What a durable run hears from the journal. */
export interface JournalListener {
  /** Every entry up to the one `append` gave `ticket` for is durable. */
  durable(ticket: number): void
  /** The run's lease is gone (another owner took it, or the store says it is finished): stop writing. */
  fenced(reason: string): void
  /** The store failed and the journal gave up on this run's pending entries. */
  failed(error: TaskweaveError): void
  /**
   * The store refuses writes (read-only, full, unreachable) past the journal's quick retries:
   * start nothing new until {@link resumed}. What runs goes on; its outcomes wait to be written.
   */
  paused?(reason: string): void
  /** The store takes writes again: dispatch may go on. */
  resumed?(): void
}

/** Whether the store takes the journal's writes, as {@link JournalOptions.onAvailability} hears it. */
export interface StoreAvailability {
  readonly available: boolean
  /** Why the store is unavailable (its last error), when it is not. */
  readonly error?: string
  /** Wall time (epoch ms) the store became unavailable, or became available again. */
  readonly since: number
  /** With `available`: how long the store refused writes, in ms. */
  readonly downMs?: number
  /**
   * Set (with `available` false) when the runs that waited for the store stopped after the outage
   * limit: nothing tries it any more, so whether it takes writes now is not known.
   */
  readonly gaveUp?: true
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
  /**
   * Quick tries of a failing append (100 ms, 200 ms, 400 ms apart). A final refusal fails the
   * runs in it after these; a store that is unavailable (its error is retryable) then pauses
   * every run's dispatch and is tried every few seconds, up to {@link outageLimitMs}. @default 4
   */
  readonly maxTries?: number
  /**
   * How long runs wait, dispatch paused, for a store that refuses writes before they stop
   * (unfinished in the store, resumable), in ms. @default 600,000 (10 minutes)
   */
  readonly outageLimitMs?: number
  /** Hears the store become unavailable and available again. */
  readonly onAvailability?: (state: StoreAvailability) => void
}

/** The longest wait between two tries of an unavailable store, in ms. */
const OUTAGE_RETRY_MAX_MS = 5_000

/** One run's place in the journal. */
export class JournalRun {
  readonly runId: string
  lease: Lease
  /** Store seq of the last entry taken for a commit (or already in the journal when the run joined). */
  lastSeq: number
  /** Ticket of the last entry appended. */
  ticket = 0
  /** Entries not yet in a flush. */
  pending: PendingEntry[] = []
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
  /** Lease expiries are wall times: a jump of the wall clock is said at the renewal that sees it. */
  #jumps: ClockJumpWatch | undefined
  #idle: (() => void)[] = []
  /** Suspended runs whose leases the next releaseAll gives up. */
  #released: JournalRun[] = []
  /** Set while the store refuses writes past the quick tries: when it began (monotonic and wall ms) and why. */
  #outage: { readonly startedAt: number; readonly since: number; error: string } | undefined
  /** Set by {@link releaseAll}: an outage is waited out no longer. */
  #stopping = false
  /** Ends the wait before the next try of an unavailable store at once. */
  #wakeRetry: (() => void) | undefined

  constructor(options: JournalOptions) {
    this.#options = options
  }

  /** The store the journal writes to. */
  get store(): RunStore {
    return this.#options.store
  }

  /** Joins a run holding `lease`, whose journal already holds `lastSeq` entries (paused at once while the store is unavailable). */
  join(lease: Lease, lastSeq: number, listener: JournalListener): JournalRun {
    const run = new JournalRun(lease, lastSeq, listener)
    this.#runs.set(run.runId, run)
    this.#armRenewal()
    if (this.#outage !== undefined) listener.paused?.(this.#outageReason(this.#outage.error))
    return run
  }

  /**
   * Leaves: the run ended (its `finish` is durable), or was suspended (`release`: its lease is
   * given up by the next {@link releaseAll}, so another process may resume it at once).
   */
  leave(run: JournalRun, release = false): void {
    if (release && run.open && this.#runs.has(run.runId)) this.#released.push(run)
    if (this.#runs.get(run.runId) === run) this.#runs.delete(run.runId)
    if (this.#runs.size === 0) {
      this.#renewTimer?.()
      this.#renewTimer = undefined
    }
  }

  /**
   * Leaves and gives the run's lease up at once, once what it wrote is durable: a parked run
   * waits for a person, who may decide from another process right away. A store that fails to
   * release leaves the lease to expire (`leaseTtlMs`).
   */
  async leaveAndRelease(run: JournalRun): Promise<void> {
    this.leave(run, false)
    await this.drained()
    if (!run.open) return
    run.open = false
    try {
      await this.#options.store.release([run.lease])
    } catch (err) {
      this.#options.logger.warn('a parked run\'s lease could not be given up; it expires by itself', { runId: run.runId, error: err instanceof Error ? err.message : String(err) })
    }
  }

  /** Appends an entry for `run`; resolves nothing: the run hears `durable(ticket)`. Returns its ticket. */
  append(run: JournalRun, entry: NewEntry): number {
    const ticket = ++run.ticket
    if (!run.open) return ticket
    run.pending.push({ ticket, at: this.#options.clock.wallNow(), entry })
    this.#dirty.add(run)
    if (!this.#flushing && !this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#startFlush)
    }
    return ticket
  }

  readonly #startFlush = (): void => {
    this.#scheduled = false
    void this.#flush()
  }

  /** Resolves once nothing is waiting to be written. */
  drained(): Promise<void> {
    if (!this.#flushing && !this.#scheduled && this.#dirty.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /**
   * Waits for an unavailable store no longer (the engine is closing): the entries it has not
   * taken are dropped and their runs hear `failed` (suspended runs stay resumable: a resume
   * replays what was written). A store that answers is still written to as usual.
   */
  stopWaiting(): void {
    this.#stopping = true
    this.#wakeRetry?.()
  }

  /**
   * Gives up the leases of the runs still joined (a graceful stop): another process may resume
   * them at once. An unavailable store is waited for no longer: what it has not taken is dropped
   * (the runs are suspended, and a resume replays what was written), and leases it cannot take
   * back expire by themselves.
   */
  async releaseAll(): Promise<void> {
    this.stopWaiting()
    await this.drained()
    const leases = [...this.#runs.values(), ...this.#released].filter((run) => run.open).map((run) => run.lease)
    this.#runs.clear()
    this.#released = []
    this.#renewTimer?.()
    this.#renewTimer = undefined
    if (leases.length === 0) return
    try {
      await this.#options.store.release(leases)
    } catch (err) {
      if (this.#outage === undefined) throw err
      this.#options.logger.warn('the leases of the suspended runs could not be given up (the store is unavailable); they expire by themselves', { store: this.#options.store.location, runs: leases.length, error: describeThrown(err) })
    }
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#dirty.size > 0) {
        const { batches, runs, tickets } = this.#takeBatch()
        await this.#commit(batches, runs, tickets)
        // One turn of the event loop, so what the commit set off (dependents that finish in
        // promise callbacks) joins the next batch rather than trickling into several.
        if (this.#dirty.size > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      }
    } finally {
      this.#flushing = false
      const idle = this.#idle
      this.#idle = []
      for (const resolve of idle) resolve()
    }
  }

  /**
   * Takes up to `maxBatchEntries` entries, whole runs first (a run's entries keep their order),
   * drops each `start` whose outcome is in the same batch, and numbers what is left.
   */
  #takeBatch(): { batches: JournalBatch[]; runs: JournalRun[]; tickets: number[] } {
    const max = this.#options.maxBatchEntries ?? 20_000
    const batches: JournalBatch[] = []
    const runs: JournalRun[] = []
    const tickets: number[] = []
    let taken = 0
    for (const run of this.#dirty) {
      if (taken >= max) break
      const room = max - taken
      const pending = run.pending.length <= room ? run.pending : run.pending.slice(0, room)
      run.pending = run.pending.length <= room ? [] : run.pending.slice(room)
      if (run.pending.length === 0) this.#dirty.delete(run)
      taken += pending.length
      if (!run.open || pending.length === 0) continue
      batches.push({ runId: run.runId, epoch: run.lease.epoch, entries: numbered(run, pending) })
      runs.push(run)
      tickets.push((pending[pending.length - 1] as PendingEntry).ticket)
    }
    return { batches, runs, tickets }
  }

  async #commit(batches: JournalBatch[], runs: JournalRun[], tickets: number[]): Promise<void> {
    if (batches.length === 0) return
    const maxTries = this.#options.maxTries ?? 4
    let lastError: unknown
    /** Whether an earlier try may have been written (its answer was lost). */
    let uncertain = false
    /** Whether the store stayed unavailable longer than the outage limit. */
    let outlasted = false
    for (let attempt = 1; ; attempt++) {
      try {
        crashPoint('journal.beforeAppend')
        const { fenced } = await this.#options.store.append(batches)
        crashPoint('journal.afterAppend')
        this.#endOutage()
        this.#settle(runs, tickets, new Set(fenced))
        return
      } catch (err) {
        lastError = err
        uncertain ||= isUncertain(err)
        // An append is one transaction: after a lost answer, the store says whether it was
        // written. Offering the same entries again would be refused as a repeat, forever.
        if (uncertain) {
          const fenced = await this.#writtenBefore(batches).catch(() => undefined)
          if (fenced !== undefined) {
            this.#endOutage()
            this.#settle(runs, tickets, fenced)
            return
          }
        }
        // A refusal the store calls final (a gap in a journal, say) is not offered again.
        if (TaskweaveError.is(err) && err.retryable === false && !uncertain) break
        // Past the quick tries a store that says it may take writes later (a retryable error:
        // read-only, full, unreachable) is unavailable: every run pauses its dispatch, and the
        // store is tried every few seconds until it takes the entries or the outage lasts too long.
        if (attempt >= maxTries) {
          if (!(TaskweaveError.is(err) && err.retryable) || this.#stopping) break
          if (!this.#stillWaiting(err)) {
            outlasted = true
            break
          }
        } else if (this.#stopping && this.#outage !== undefined) break
        const delayMs = attempt < maxTries ? Math.min(2_000, 100 * 2 ** (attempt - 1)) : Math.min(OUTAGE_RETRY_MAX_MS, 500 * 2 ** (attempt - maxTries))
        if (attempt < maxTries) this.#options.logger.warn('the run store refused a journal append; trying again', { store: this.#options.store.location, attempt, delayMs, error: describeThrown(err) })
        await this.#pause(delayMs)
      }
    }
    const error = outlasted
      ? new TaskweaveError('TW_STORE', `the run store (${this.#options.store.location}) refused writes for longer than ${Math.round(this.#outageLimitMs / 1000)} s (durability.storeOutageLimit): ${describeThrown(lastError)}`, { retryable: true, cause: lastError })
      : TaskweaveError.is(lastError, 'TW_STORE')
      ? lastError
      : new TaskweaveError('TW_STORE', `the run store (${this.#options.store.location}) failed: ${describeThrown(lastError)}`, { retryable: false, cause: lastError })
    // An outage that outlasted its limit stops every run, not only those with entries waiting:
    // the others would wait, paused, for a store nobody tries any more.
    const stopped = outlasted ? [...new Set([...runs, ...this.#runs.values()])] : runs
    this.#options.logger.error('the run store failed; the runs writing to it stop', { store: this.#options.store.location, runs: stopped.length, error: error.message })
    for (const run of stopped) {
      if (!run.open) continue
      this.#close(run)
      run.listener.failed(error)
    }
    if (outlasted) {
      // Every run stopped: none waits for the store any more, and nothing tries it. The engine
      // no longer says it is unavailable (a run started now learns at once whether it is).
      const outage = this.#outage
      this.#outage = undefined
      if (outage !== undefined) this.#options.onAvailability?.({ available: false, gaveUp: true, error: outage.error, since: outage.since })
    } else if (!this.#stopping) {
      // The store answered with a refusal of its own (not "try later"): it is reachable, so the
      // runs paused for it go on (their writes, if refused too, pause them again).
      this.#endOutage()
    }
  }

  /**
   * Notes that the store refused an append past the quick tries (starting the outage on the first
   * one: runs pause, `onAvailability` hears it). False once the outage has lasted its limit.
   */
  #stillWaiting(err: unknown): boolean {
    const error = describeThrown(err)
    const now = this.#options.clock.now()
    if (this.#outage === undefined) {
      this.#outage = { startedAt: now, since: this.#options.clock.wallNow(), error }
      const reason = this.#outageReason(error)
      this.#options.logger.error(`the run store is unavailable; runs start nothing new until it takes writes again (they stop after ${Math.round(this.#outageLimitMs / 1000)} s)`, { store: this.#options.store.location, error })
      this.#options.onAvailability?.({ available: false, error, since: this.#outage.since })
      for (const run of [...this.#runs.values()]) if (run.open) run.listener.paused?.(reason)
    } else this.#outage.error = error
    return now - this.#outage.startedAt < this.#outageLimitMs
  }

  /** The store took an append: an outage, if there was one, is over and the runs dispatch again. */
  #endOutage(): void {
    const outage = this.#outage
    if (outage === undefined) return
    this.#outage = undefined
    const downMs = Math.max(0, this.#options.clock.now() - outage.startedAt)
    this.#options.logger.info('the run store takes writes again; runs go on', { store: this.#options.store.location, downMs: Math.round(downMs) })
    this.#options.onAvailability?.({ available: true, since: this.#options.clock.wallNow(), downMs })
    for (const run of [...this.#runs.values()]) if (run.open) run.listener.resumed?.()
  }

  get #outageLimitMs(): number {
    return this.#options.outageLimitMs ?? 600_000
  }

  #outageReason(error: string): string {
    return `the run store (${this.#options.store.location}) is unavailable: ${error}`
  }

  /** Waits `ms` on the journal's clock, or until {@link releaseAll} ends the wait. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const cancel = this.#options.clock.setTimer(ms, () => {
        this.#wakeRetry = undefined
        resolve()
      })
      this.#wakeRetry = () => {
        this.#wakeRetry = undefined
        cancel()
        resolve()
      }
    })
  }

  /** Tells each run of a written append that its entries are durable, or that it was fenced. */
  #settle(runs: readonly JournalRun[], tickets: readonly number[], fenced: ReadonlySet<string>): void {
    for (const [k, run] of runs.entries()) {
      if (fenced.has(run.runId)) {
        this.#close(run)
        run.listener.fenced(`run "${run.runId}" is now owned elsewhere (lease epoch ${run.lease.epoch} is no longer current)`)
      } else run.listener.durable(tickets[k] as number)
    }
  }

  /**
   * Whether an append whose answer was lost was written, read back from the store: the runs it
   * fenced when it was (their stored journal lacks their batch), undefined when it was not. Reads
   * whole runs, which only this rare path does.
   */
  async #writtenBefore(batches: readonly JournalBatch[]): Promise<ReadonlySet<string> | undefined> {
    const fenced = new Set<string>()
    let written = false
    for (const batch of batches) {
      const last = batch.entries[batch.entries.length - 1]
      if (last === undefined) continue
      const stored = await this.#options.store.load(batch.runId)
      // The same fact at the same place (a later owner may have written another entry there).
      const same = stored?.entries.find((entry) => entry.seq === last.seq)
      if (same !== undefined && same.kind === last.kind && same.taskId === last.taskId && same.attempt === last.attempt && same.at === last.at) written = true
      else fenced.add(batch.runId)
    }
    return written ? fenced : undefined
  }

  #close(run: JournalRun): void {
    run.open = false
    run.pending = []
    this.#dirty.delete(run)
    if (this.#runs.get(run.runId) === run) this.#runs.delete(run.runId)
  }

  #noteClockJump(wall: number): void {
    const mono = this.#options.clock.now()
    if (this.#jumps === undefined) {
      this.#jumps = new ClockJumpWatch(wall, mono)
      return
    }
    const jump = this.#jumps.look(wall, mono)
    if (jump === 0) return
    this.#options.logger.warn(
      `the wall clock jumped ${describeJump(jump)}: running tasks' timeouts and retry delays are unaffected (they use a monotonic clock); lease expiries and the due times of retries written to the journal are wall times, and a resume waits at most a retry's own delay`,
      { jumpMs: Math.round(jump), store: this.#options.store.location },
    )
  }

  #armRenewal(): void {
    if (this.#renewTimer !== undefined) return
    const every = Math.max(10, Math.floor(this.#options.leaseTtlMs / 3))
    const tick = (): void => {
      this.#renewTimer = undefined
      const runs = [...this.#runs.values()].filter((run) => run.open)
      if (runs.length === 0) return
      const now = this.#options.clock.wallNow()
      this.#noteClockJump(now)
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

/** An entry waiting for a flush, with the ticket its run holds for it. */
interface PendingEntry {
  readonly ticket: number
  readonly at: number
  readonly entry: NewEntry
}

/**
 * The store entries of `pending`, numbered after the run's last seq: a `start` whose attempt's
 * outcome (`ok`, `fail`) is in the same batch is left out.
 */
function numbered(run: JournalRun, pending: readonly PendingEntry[]): JournalEntry[] {
  let settled: Set<string> | undefined
  for (const { entry } of pending) {
    if ((entry.kind === 'ok' || entry.kind === 'fail') && entry.taskId !== undefined) (settled ??= new Set()).add(`${entry.attempt ?? 0}#${entry.taskId}`)
  }
  const entries: JournalEntry[] = []
  for (const { at, entry } of pending) {
    if (entry.kind === 'start' && settled !== undefined && settled.has(`${entry.attempt ?? 0}#${entry.taskId ?? ''}`)) continue
    entries.push({ seq: ++run.lastSeq, at, ...entry })
  }
  return entries
}

/** Whether a store error says its change may have been applied (the answer was lost). */
function isUncertain(err: unknown): boolean {
  return TaskweaveError.is(err) && (err.details as { readonly uncertain?: unknown } | undefined)?.uncertain === true
}
