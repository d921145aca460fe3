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
import type { Lease, RunStore, RunSummary } from '../core/store.js'
import type { BackgroundRecorder, BackgroundRecordHandle, BackgroundWorkRecord, RecoveredWork } from '../background/types.js'
import { BACKGROUND_DEADLINE_LABEL } from '../background/types.js'
import type { BackgroundFinalStatus } from '../background/states.js'
import type { Journal } from './journal.js'
import { resumeLeaseRequest } from './live-owners.js'
import type { ResolvedDurability } from './durable.js'
import type { RunResult } from '../core/report.js'

/** Label names of background work in the store. */
const CONVERSATION = 'conversation'
const TASK = 'backgroundTask'
const NAME = 'backgroundName'
const KIND = 'backgroundKind'
const BACKGROUND_DEADLINE = BACKGROUND_DEADLINE_LABEL

/** What the recorder needs from the engine. */
export interface RecorderEnvironment {
  readonly store: RunStore
  readonly journal: Journal
  readonly clock: Clock
  readonly logger: Logger
  readonly durability: ResolvedDurability
  /** Resumes a durable run (the engine's `resume`). */
  readonly resume: (runId: string) => Promise<{ readonly result: Promise<RunResult>; cancel(reason?: string): void }>
}

/** Makes the engine's background recorder. */
export function backgroundRecorder(env: RecorderEnvironment): BackgroundRecorder {
  const leaseOf = (): { owner: string; ttlMs: number; now: number } => ({ owner: env.durability.owner, ttlMs: env.durability.leaseTtlMs, now: env.clock.wallNow() })

  /** A record whose run exists under `lease` (now or once `created` resolves): finishing writes its finish entry. */
  const handleFor = (runId: string, created: Promise<Lease | undefined>): BackgroundRecordHandle => {
    let finishing: Promise<void> | undefined
    return {
      finish: (status: BackgroundFinalStatus) =>
        (finishing ??= created.then(
          (lease) =>
            new Promise<void>((resolve) => {
              if (lease === undefined) return resolve()
              const done = (): void => {
                env.journal.leave(run)
                resolve()
              }
              const run = env.journal.join(lease, 0, { durable: done, fenced: done, failed: done })
              const stored = status === 'succeeded' ? 'succeeded' : status === 'cancelled' ? 'cancelled' : 'failed'
              env.journal.append(run, { kind: 'finish', data: JSON.stringify({ status: stored, counts: {}, background: status }) })
            }),
          () => undefined,
        )),
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
            labels: { [CONVERSATION]: work.conversationId, [TASK]: work.taskId, [NAME]: work.name, [KIND]: work.kind, ...(work.deadline !== undefined ? { [BACKGROUND_DEADLINE]: String(work.deadline) } : {}) },
          },
          leaseOf(),
        )
        .catch((err: unknown) => {
          logFailure(env.logger, 'the run store did not record a background task', err, { taskId: work.taskId })
          return undefined
        })
      return handleFor(runId, created)
    },

    async recover(machineNames: ReadonlySet<string>): Promise<RecoveredWork[]> {
      const recovered: RecoveredWork[] = []
      const unfinished = (await env.store.list({ status: 'running', limit: 100_000 })).filter((run) => run.labels[CONVERSATION] !== undefined)
      for (const run of unfinished) {
        const taken = await takeOver(env, run)
        if (taken === undefined) continue
        const conversationId = run.labels[CONVERSATION] as string
        const taskId = run.labels[TASK] ?? run.runId
        const name = run.labels[NAME] ?? run.workflowId
        const kind = run.labels[KIND]
        const deadlineText = run.labels[BACKGROUND_DEADLINE]
        const deadline = deadlineText !== undefined && Number.isFinite(Number(deadlineText)) ? Number(deadlineText) : undefined
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
        const record = handleFor(run.runId, Promise.resolve(taken))
        if (kind === 'state-machine') {
          const stored = await env.store.load(run.runId)
          const machine = JSON.parse(stored?.definition ?? '{}') as { name?: string; context?: unknown }
          if (machine.name !== undefined && machineNames.has(machine.name)) {
            recovered.push({ kind: 'state-machine', conversationId, taskId, name, machine: machine.name, context: machine.context, record, deadline })
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

/** Takes the lease of an unfinished run left by a dead process; undefined when a live one holds it. */
async function takeOver(env: RecorderEnvironment, run: RunSummary): Promise<Lease | undefined> {
  try {
    return await env.store.acquire(run.runId, resumeLeaseRequest(env.store, env.durability.owner, env.durability.leaseTtlMs, env.clock.wallNow()))
  } catch (err) {
    logFailure(env.logger, 'a background record could not be taken over', err, { runId: run.runId })
    return undefined
  }
}
