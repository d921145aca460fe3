/**
 * Background work beside a conversation: functions, workflows and state machines submitted under
 * a conversation id, with status, results, cancellation, timeouts, completion delivery and
 * cleanup when the conversation ends.
 * @example
 * await using background = new ConcurrentExecutor({ engine })
 * const id = background.submit({ conversationId: 'c1', name: 'balance', run: async ({ signal }) => bank.balance(signal) })
 * const outcome = await background.result(id) // { status: 'succeeded', value: … }
 * @module
 */
export { ConcurrentExecutor } from './executor.js'
export type { EndConversationResult } from './executor.js'
export { FsmExecutor } from './fsm-executor.js'
export type { FsmExecutorOptions, FsmSubmitOptions } from './fsm-executor.js'
export type { ConcurrentExecutorOptions } from './options.js'
export type { BackgroundFinalStatus, BackgroundStatus } from './states.js'
export type {
  BackgroundContext,
  BackgroundEngine,
  BackgroundFunction,
  BackgroundKind,
  BackgroundOutcome,
  BackgroundRecorder,
  BackgroundRecordHandle,
  BackgroundStats,
  BackgroundWorkRecord,
  RecoveredWork,
  RecoverySummary,
  BackgroundTaskId,
  BackgroundTaskInfo,
  SubmitBase,
  SubmitFunction,
  SubmitOptions,
  SubmitStateMachine,
  SubmitWorkflow,
} from './types.js'
