/**
 * A state machine as one task of a DAG workflow: the machine runs inside a tool attempt, under the
 * attempt's signal (so the task's timeout and the run's cancellation stop it), and its outcome
 * becomes the task's output or error.
 * @module
 */
import { z } from 'zod'
import { systemClock } from '../core/clock.js'
import type { Clock } from '../core/clock.js'
import { deserializeError, isRetryable, TaskweaveError } from '../core/errors.js'
import { defineTool } from '../core/tool.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import type { Tool, ToolContext } from '../core/tool.js'
import type { StateMachine, Transition } from './define.js'
import { runStateMachine } from './run.js'

const inputSchema = z.object({
  context: z.record(z.string(), z.unknown()).optional().describe("Fields shallow-merged over the machine's initial context."),
}).strict()

/** Input of a state-machine tool. */
export type StateMachineToolInput = z.input<typeof inputSchema>

/** Output of a state-machine tool (the task's `output`). */
export interface StateMachineToolOutput<C = unknown, S extends string = string> {
  readonly finalState: S
  readonly context: C
  readonly transitions: readonly Transition<S>[]
}

/** Options of {@link stateMachineTool}. */
export interface StateMachineToolOptions {
  /** What the tool does (shown by the CLI and given to LLMs). @default the machine's states */
  readonly description?: string
  /**
   * Clock for state timeouts, retry delays and transition times. Pass the engine's clock (e.g. a
   * `ManualClock` in tests). @default `ctx.clock` when the engine provides one, else the system clock
   */
  readonly clock?: Clock
}

/**
 * Wraps a state machine as a tool, so a workflow task can run it. A task's `input.context` is
 * shallow-merged over the machine's context; each transition is reported as task progress. A
 * machine that fails makes the task fail with the machine's error (code, state and cause kept).
 * @example
 * const verify = stateMachineTool('user.verify', verifyMachine)
 * const flow = workflow({ id: 'onboard' })
 *   .task('load', loadUser, { input: { id: 'u1' } })
 *   .task('verify', verify, { input: { context: { user: '{{ tasks.load.output }}' } } })
 *   .task('welcome', sendWelcome, { input: { verified: '{{ tasks.verify.output.context.verified }}' } })
 *   .build()
 */
export function stateMachineTool<C extends object, S extends string>(
  name: string,
  machine: StateMachine<C, S>,
  options: StateMachineToolOptions = {},
): Tool<typeof inputSchema, StateMachineToolOutput<C, S>> {
  refuseUnknownOptions('stateMachineTool', options, ['description', 'clock'])
  return defineTool({
    name,
    description: options.description ?? `state machine "${machine.name}" (states ${machine.stateNames.join(', ')})`,
    input: inputSchema,
    run: async (input, ctx) => {
      const context = input.context === undefined ? machine.context : ({ ...machine.context, ...input.context } as C)
      const result = await runStateMachine(machine, {
        signal: ctx.signal,
        clock: options.clock ?? engineClock(ctx) ?? systemClock,
        context,
        onTransition: (t) => ctx.progress({ message: `${t.from} → ${t.to ?? 'done'}`, data: t }),
      })
      if (result.status === 'succeeded') return { finalState: result.finalState, context: result.context, transitions: result.transitions }
      // Cancelled: rethrow the signal's own reason so the engine sees its cancellation or timeout.
      if (result.status === 'cancelled' && ctx.signal.aborted) throw ctx.signal.reason
      if (result.error === undefined) throw new TaskweaveError(result.status === 'cancelled' ? 'TW_CANCELLED' : 'TW_FSM_STATE_FAILED', `state machine "${machine.name}" ${result.status}`, { retryable: false, details: { machine: machine.name, status: result.status } })
      const error = deserializeError(result.error)
      // As a task, the workflow's retry policy (and retryOn) decides again whether to run the
      // machine once more, by the nature of the state's last error.
      if (result.error.code === 'TW_FSM_STATE_FAILED') throw new TaskweaveError(error.code, error.message, { retryable: isRetryable(error.cause), details: error.details, ...(error.cause !== undefined ? { cause: error.cause } : {}) })
      throw error
    },
  })
}

/**
 * The engine's clock from the tool's context (the engine always sets it; a hand-made context may
 * not), so a machine run as a task follows a manual clock in tests.
 */
function engineClock(ctx: ToolContext): Clock | undefined {
  const clock = ctx.clock
  return clock !== undefined && typeof clock.now === 'function' && typeof clock.setTimer === 'function' ? clock : undefined
}
