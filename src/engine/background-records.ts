/**
 * The engine's side of durable background work (`BackgroundRecorder`): a function or state
 * machine started under a conversation gets a record in the run store (a run with no tasks,
 * labelled with its conversation, finished when the work ends, written through the engine's
 * journal so records share its group commits and lease renewals). Workflows need no record of
 * their own: they are durable runs, labelled the same way. After a restart `recover` takes the
 * conversations' unfinished runs and records over.
 * @module
 */
import { randomId } from '../core/uuid.js'
import type { Clock } from '../core/clock.js'
import type { Logger } from '../core/logger.js'
import { logFailure } from '../core/log-failure.js'
import type { JournalEntry, Lease, RunStore, RunSummary } from '../core/store.js'
import type { BackgroundRecorder, BackgroundRecordHandle, BackgroundWorkRecord, RecoveredWork } from '../background/types.js'
import { BACKGROUND_DEADLINE_LABEL } from '../background/types.js'
import type { BackgroundFinalStatus } from '../background/states.js'
import type { Journal, JournalRun } from './journal.js'
import { resumeLeaseRequest } from './live-owners.js'
import type { ResolvedDurability } from './durable.js'
import type { RunResult } from '../core/report.js'

/** Label names of background work in the store. */
const CONVERSATION = 'conversation'
const TASK = 'backgroundTask'
const NAME = 'backgroundName'
const KIND = 'backgroundKind'
const BACKGROUND_DEADLINE = BACKGROUND_DEADLINE_LABEL
/** Set on the record of work that was waiting for a place when it was recorded (a `start` entry follows when it starts). */
const QUEUED = 'backgroundQueued'
/** The timeout (ms, as text) of work recorded while it waited: its deadline starts when it does. */
const QUEUED_TIMEOUT = 'backgroundTimeoutMs'
/** The submit's priority of work recorded while it waited: it waits again in that order. */
const QUEUED_PRIORITY = 'backgroundPriority'

/** What the recorder needs from the engine. */
export interface RecorderEnvironment {
  readonly store: RunStore
  readonly journal: Journal
  readonly clock: Clock
  readonly logger: Logger
  readonly durability: ResolvedDurability
  /** Resumes a durable run (the engine's `resume`). */
  readonly resume: (runId: string) => Promise<{ readonly result: Promise<RunResult>; cancel(reason?: string): void }>
  /** Whether a run is running (or being resumed) in this engine. */
  readonly isActive: (runId: string) => boolean
}

/** Makes the engine's background recorder. */
export function backgroundRecorder(env: RecorderEnvironment): BackgroundRecorder {
  const leaseOf = (): { owner: string; ttlMs: number; now: number } => ({ owner: env.durability.owner, ttlMs: env.durability.leaseTtlMs, now: env.clock.wallNow() })

  /**
   * A record whose run exists under `lease` (now or once `created` resolves), whose journal holds
   * `lastSeq` entries. It joins the engine's journal as soon as it exists, so its lease is renewed
   * while the work lives (another process recovers it only once this one is gone), and leaves
   * once its `finish` entry is durable (or the store gave it up).
   */
  /** Records of work alive in this engine (made here, or taken over), by run id, until they end. */
  const live = new Set<string>()
  /** Record writes under way (creations, finishes): an engine closing waits for them before it gives its leases up. */
  const pending = new Set<Promise<unknown>>()
  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise)
    void promise.finally(() => pending.delete(promise))
    return promise
  }

  const handleFor = (runId: string, created: Promise<Lease | undefined>, lastSeq = 0): BackgroundRecordHandle => {
    let finishing: Promise<void> | undefined
    let finishTicket: number | undefined
    let ended = false
    const waiting: (() => void)[] = []
    let lost: string | undefined
    let onLost: ((reason: string) => void) | undefined
    /** The lease went, or the store gave the record up, while the work still runs. */
    const lose = (run: JournalRun, reason: string): void => {
      if (finishTicket === undefined && !ended) {
        lost = reason
        onLost?.(reason)
      }
      end(run)
    }
    live.add(runId)
    const end = (run: JournalRun): void => {
      if (ended) return
      ended = true
      live.delete(runId)
      env.journal.leave(run)
      for (const resolve of waiting.splice(0)) resolve()
    }
    const joined: Promise<JournalRun | undefined> = created.then(
      (lease) => {
        if (lease === undefined) return undefined
        const run: JournalRun = env.journal.join(lease, lastSeq, {
          durable: (ticket) => {
            if (finishTicket !== undefined && ticket >= finishTicket) end(run)
          },
          fenced: (reason) => lose(run, reason),
          failed: (error) => lose(run, error.message),
        })
        return run
      },
      () => undefined,
    )
    return {
      whenLost: (listener) => {
        onLost = listener
        if (lost !== undefined) listener(lost)
      },
      started: (deadline) => {
        void joined.then((run) => {
          if (run !== undefined && !ended) env.journal.append(run, { kind: 'start', taskId: runId, attempt: 1, ...(deadline !== undefined ? { data: JSON.stringify({ deadline }) } : {}) })
        })
      },
      finish: (status: BackgroundFinalStatus) =>
        (finishing ??= track(joined.then(
          (run) =>
            new Promise<void>((resolve) => {
              if (run === undefined || ended) return resolve()
              waiting.push(resolve)
              const stored = status === 'succeeded' ? 'succeeded' : status === 'cancelled' ? 'cancelled' : 'failed'
              finishTicket = env.journal.append(run, { kind: 'finish', data: JSON.stringify({ status: stored, counts: {}, background: status }) })
            }),
        ))),
    }
  }

  return {
    open(work: BackgroundWorkRecord): BackgroundRecordHandle {
      const runId = `bg:${randomId()}`
      const created = env.store
        .createRun(
          {
            runId,
            workflowId: `background:${work.kind}:${work.name}`,
            workflowHash: '',
            definition: JSON.stringify(work.machine ?? {}),
            inputs: '{}',
            settings: '{}',
            createdAt: env.clock.wallNow(),
            labels: { [CONVERSATION]: work.conversationId, [TASK]: work.taskId, [NAME]: work.name, [KIND]: work.kind, ...(work.deadline !== undefined ? { [BACKGROUND_DEADLINE]: String(work.deadline) } : {}), ...(work.queued === true ? { [QUEUED]: 'true' } : {}), ...(work.timeoutMs !== undefined ? { [QUEUED_TIMEOUT]: String(work.timeoutMs) } : {}), ...(work.priority !== undefined && work.priority !== 0 ? { [QUEUED_PRIORITY]: String(work.priority) } : {}) },
          },
          leaseOf(),
        )
        .catch((err: unknown) => {
          logFailure(env.logger, 'the run store did not record a background task', err, { taskId: work.taskId })
          return undefined
        })
      return handleFor(runId, track(created))
    },

    holds(runId: string): boolean {
      return live.has(runId)
    },

    async settled(): Promise<void> {
      while (pending.size > 0) await Promise.allSettled([...pending])
    },

    async recover(machineNames: ReadonlySet<string>, known: (taskId: string) => boolean): Promise<RecoveredWork[]> {
      const recovered: RecoveredWork[] = []
      // Oldest first: work that waited for a place waits again in the order it was submitted.
      const unfinished = (await env.store.list({ status: 'running', limit: 100_000 })).filter((run) => run.labels[CONVERSATION] !== undefined).sort((a, b) => a.createdAt - b.createdAt || submitSeq(a) - submitSeq(b))
      for (const run of unfinished) {
        const taskId = run.labels[TASK] ?? run.runId
        // This engine's own work (its lease is ours: it lives here), and a task the executor holds
        // already (an earlier recover), are left alone: taking the lease would fence the live one.
        if (live.has(run.runId) || env.isActive(run.runId) || known(taskId)) continue
        const taken = await takeOver(env, run)
        if (taken === undefined) continue
        const conversationId = run.labels[CONVERSATION] as string
        const name = run.labels[NAME] ?? run.workflowId
        const kind = run.labels[KIND]
        const deadlineText = run.labels[BACKGROUND_DEADLINE]
        // Written with the record: its timeout is the deadline less the record's creation time.
        let deadline = capDeadline(deadlineText !== undefined && Number.isFinite(Number(deadlineText)) ? Number(deadlineText) : undefined, run.createdAt, env.clock.wallNow())
        if (kind === undefined) {
          // A workflow: resume its run (the lease just taken is ours, so resume takes it again).
          try {
            const handle = await env.resume(run.runId)
            recovered.push({ kind: 'workflow', conversationId, taskId, name, result: handle.result, cancel: (reason) => handle.cancel(reason), deadline })
          } catch (err) {
            logFailure(env.logger, 'a background workflow could not be resumed', err, { runId: run.runId, conversationId })
          }
          continue
        }
        // A record's journal holds at most its `start` (work that waited for a place, then started).
        const stored = kind === 'state-machine' ? await env.store.load(run.runId) : undefined
        const entries = stored?.entries ?? []
        const record = handleFor(run.runId, Promise.resolve(taken), entries.length === 0 ? 0 : (entries[entries.length - 1] as JournalEntry).seq)
        if (kind === 'state-machine') {
          const machine = JSON.parse(stored?.definition ?? '{}') as { name?: string; context?: unknown }
          if (machine.name !== undefined && machineNames.has(machine.name)) {
            const start = entries.find((entry) => entry.kind === 'start')
            const queued = run.labels[QUEUED] === 'true' && start === undefined
            // One that waited, then started, keeps the deadline its start wrote.
            const startedDeadline = (JSON.parse(start?.data ?? '{}') as { deadline?: unknown }).deadline
            if (typeof startedDeadline === 'number' && start !== undefined) deadline = capDeadline(startedDeadline, start.at, env.clock.wallNow())
            const timeoutMs = Number(run.labels[QUEUED_TIMEOUT])
            const priority = Number(run.labels[QUEUED_PRIORITY] ?? 0)
            recovered.push({ kind: 'state-machine', conversationId, taskId, name, machine: machine.name, context: machine.context, record, deadline, queued, ...(queued && Number.isFinite(timeoutMs) && timeoutMs >= 0 ? { timeoutMs } : {}), ...(queued && Number.isFinite(priority) && priority !== 0 ? { priority } : {}) })
            continue
          }
        }
        recovered.push({ kind: 'lost', work: kind === 'state-machine' ? 'state-machine' : kind === 'queued-workflow' ? 'workflow' : 'function', conversationId, taskId, name, record, deadline })
      }
      return recovered
    },

    async forget(conversationId: string): Promise<void> {
      await env.store.prune({ finishedBefore: Number.MAX_SAFE_INTEGER, labels: { [CONVERSATION]: conversationId } })
    },
  }
}

/** The submit number of a record's task (its id ends with it: `conv:name:7`), to order records made in the same ms. */
function submitSeq(run: RunSummary): number {
  const n = Number((run.labels[TASK] ?? '').split(':').at(-1))
  return Number.isSafeInteger(n) ? n : 0
}

/** Takes the lease of an unfinished run left by a dead process; undefined when a live one holds it. */
async function takeOver(env: RecorderEnvironment, run: RunSummary): Promise<Lease | undefined> {
  try {
    return await env.store.acquire(run.runId, resumeLeaseRequest(env.store, env.durability.owner, env.durability.leaseTtlMs, env.clock.wallNow()))
  } catch (err) {
    logFailure(env.logger, 'a background record could not be taken over', err, { runId: run.runId })
    return undefined
  }
}

/**
 * A recovered deadline, at most its whole timeout (the deadline less `stampedAt`, the wall time it
 * was written at) from `now`: a wall clock that went back since does not lengthen it by the jump.
 */
function capDeadline(deadline: number | undefined, stampedAt: number, now: number): number | undefined {
  if (deadline === undefined) return undefined
  return Math.min(deadline, now + Math.max(0, deadline - stampedAt))
}
