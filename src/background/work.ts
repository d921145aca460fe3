/**
 * Starting workflow and state-machine background work. Each returns a promise that never rejects:
 * how the work ended, as data. A workflow goes through `engine.start`; a state machine through
 * `runStateMachine`. Both use the task's abort signal, which the executor aborts on cancel,
 * timeout and conversation end. (A plain function is called by the executor itself, with a
 * `FunctionContext`: no promise of its own, so a sync function costs no promise at all.)
 * @module
 */
import type { Clock } from '../core/clock.js'
import { CancelledError, deserializeError, serializeError, TaskweaveError } from '../core/errors.js'
import type { ToolProgress } from '../core/tool.js'
import type { RunResult } from '../core/report.js'
import { isStateMachine } from '../fsm/define.js'
import type { StateMachine, Transition } from '../fsm/define.js'
import { runStateMachine } from '../fsm/run.js'
import type { StateMachineResult } from '../fsm/run.js'
import type { BackgroundEngine, BackgroundKind, SubmitOptions, SubmitStateMachine, SubmitWorkflow } from './types.js'

/** How a piece of work ended. `error` is anything thrown. */
export interface WorkResult {
  readonly status: 'succeeded' | 'failed' | 'cancelled'
  readonly value?: unknown
  readonly error?: unknown
}

/** Started work. */
export interface Work {
  readonly done: Promise<WorkResult>
  /** The run of a workflow. */
  readonly runId?: string
  /** The value to report when the executor stops the work before it ends (a machine's progress so far). */
  readonly snapshot?: (error: unknown) => unknown
}

/** Everything one start needs. */
export interface WorkSetup {
  readonly taskId: string
  /** May be a getter that creates the signal on first read. */
  readonly signal: AbortSignal
  readonly clock: Clock
  readonly engine: BackgroundEngine | undefined
  readonly progress: (progress: ToolProgress) => void
  /** Labels for a workflow's durable run (its conversation and task). */
  readonly labels?: Readonly<Record<string, string>>
}

/** The kind of work `run` is. */
export function kindOf(run: SubmitOptions['run']): BackgroundKind {
  if (typeof run === 'function') return 'function'
  return isStateMachine(run) ? 'state-machine' : 'workflow'
}

/** Starts a workflow or a state machine. May throw synchronously (e.g. no engine); the caller captures it. */
export function startWork(options: SubmitWorkflow | SubmitStateMachine<unknown, string>, setup: WorkSetup): Work {
  if (isStateMachine(options.run)) return startMachine(options as SubmitStateMachine<unknown, string>, setup)
  return startWorkflow(options as SubmitWorkflow, setup)
}

function startWorkflow(options: SubmitWorkflow, setup: WorkSetup): Work {
  const engine = setup.engine
  if (engine === undefined) {
    throw new TaskweaveError('TW_INVALID_OPTION', `background task "${setup.taskId}" is a workflow, and the executor has no engine: create it with new ConcurrentExecutor({ engine })`, { retryable: false })
  }
  const handle = engine.start(options.run, { signal: setup.signal, ...(options.inputs !== undefined ? { inputs: options.inputs } : {}), ...(setup.labels !== undefined ? { labels: setup.labels } : {}) })
  return { done: handle.result.then(fromRunResult, (error: unknown) => ({ status: 'failed', error })), runId: handle.id }
}

/** How a workflow's run ended, as a background result. */
export function fromRunResult(result: RunResult): WorkResult {
  if (result.status === 'succeeded') return { status: 'succeeded', value: result }
  if (result.status === 'cancelled') return { status: 'cancelled', value: result, error: new CancelledError(result.reason ?? 'the run was cancelled', { details: { runId: result.runId } }) }
  const failed = result.failed.length > 0 ? `; failed: ${result.failed.join(', ')}` : ''
  return {
    status: 'failed',
    value: result,
    error: new TaskweaveError('TW_RUN_FAILED', `workflow "${result.workflowId}" ended ${result.status}${failed}`, {
      retryable: false,
      details: { runId: result.runId, workflowId: result.workflowId, status: result.status, failed: result.failed },
    }),
  }
}

/**
 * What a state machine stopped before it started reports (cancelled while it waited for a place,
 * by `endConversation` or `close`): its initial state and context, no transitions.
 */
export function unstartedMachineSnapshot(options: SubmitStateMachine<unknown, string>, now: () => number): (error: unknown) => StateMachineResult {
  const machine: StateMachine<unknown, string> = options.run
  return (error) => {
    const at = now()
    return { status: 'cancelled', finalState: machine.initial, context: options.context !== undefined ? options.context : machine.context, transitions: [], error: serializeError(error), startedAt: at, finishedAt: at, durationMs: 0 }
  }
}

function startMachine(options: SubmitStateMachine<unknown, string>, setup: WorkSetup): Work {
  const machine: StateMachine<unknown, string> = options.run
  const startedAt = setup.clock.now()
  // Progress so far, so a machine stopped from outside still reports where it was.
  let state = machine.initial
  let context = options.context !== undefined ? options.context : machine.context
  const transitions: Transition[] = []
  const done = runStateMachine(machine, {
    signal: setup.signal,
    clock: setup.clock,
    context,
    onTransition: (transition, next) => {
      transitions.push(transition)
      context = next
      if (transition.to !== null) state = transition.to
      setup.progress({ message: `${transition.from} → ${transition.to ?? 'done'}`, data: transition })
    },
  })
  const snapshot = (error: unknown): StateMachineResult => {
    const finishedAt = setup.clock.now()
    return { status: 'cancelled', finalState: state, context, transitions: [...transitions], error: serializeError(error), startedAt, finishedAt, durationMs: finishedAt - startedAt }
  }
  return {
    done: done.then((result): WorkResult => ({ status: result.status, value: result, ...(result.error !== undefined ? { error: deserializeError(result.error) } : {}) })),
    snapshot,
  }
}
