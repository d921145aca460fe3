/**
 * State-machine workflows: define named states whose steps pick the next state, run them with a
 * transition history, in the background (`FsmExecutor` in `background/`), or as a DAG task.
 * @example
 * const machine = defineStateMachine({
 *   initial: 'ask',
 *   context: { answer: '' },
 *   states: {
 *     ask: { run: async ({ signal }) => ({ next: 'check', context: { answer: await askModel(signal) } }), retry: { maxAttempts: 3 } },
 *     check: { run: ({ context }) => (context.answer.length > 0 ? DONE : 'ask') },
 *   },
 * })
 * const { status, finalState, context, transitions } = await runStateMachine(machine)
 * @module
 */
export { DONE, defineStateMachine, isStateMachine } from './define.js'
export type { Done, StateContext, StateMachine, StateMachineDefinition, StateRetry, StateSpec, StepResult, StepReturn, Transition } from './define.js'
export { StateMachineError } from './errors.js'
export type { StateMachineErrorCode, StateMachineErrorOptions } from './errors.js'
export { runStateMachine } from './run.js'
export type { RunStateMachineOptions, StateMachineResult } from './run.js'
export { stateMachineTool } from './tool.js'
export type { StateMachineToolInput, StateMachineToolOptions, StateMachineToolOutput } from './tool.js'
