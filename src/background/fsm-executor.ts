/**
 * State machines in the background: the seed's `AFSMExecutor.submit_fsm_task`. A thin wrapper
 * that defines the machine and submits it to a {@link ConcurrentExecutor}, so it shares the
 * executor's conversations, timeouts, completions and cleanup.
 * @module
 */
import { optionNames, refuseUnknownOptions } from '../core/known-options.js'
import type { Duration } from '../core/duration.js'
import { defineStateMachine } from '../fsm/define.js'
import type { StateSpec } from '../fsm/define.js'
import type { StateMachineResult } from '../fsm/run.js'
import { ConcurrentExecutor } from './executor.js'
import type { EndConversationResult } from './executor.js'
import type { ConcurrentExecutorOptions } from './options.js'
import type { BackgroundTaskId, BackgroundTaskInfo } from './types.js'

/** What {@link FsmExecutor.submit} takes. */
export interface FsmSubmitOptions<C, S extends string> {
  readonly conversationId: string
  /** Task name (ids are `${conversationId}:${name}:${n}`); also the machine's name. */
  readonly name: string
  /** The task's id, chosen by the caller (see `SubmitOptions.taskId`). @default generated */
  readonly taskId?: string
  readonly initialState: NoInfer<S>
  readonly states: { readonly [K in S]: StateSpec<C, NoInfer<S>> }
  readonly context: C
  /** Time limit of the whole machine. @default the executor's `defaultTimeout` */
  readonly timeout?: Duration
  /** @default 1,000 */
  readonly maxTransitions?: number
  /** Aborting it cancels the machine. */
  readonly signal?: AbortSignal
  /** Higher starts first when the executor's `maxConcurrent` places are scarce. @default 0 */
  readonly priority?: number
  /** False keeps it out of the engine's store (an executor with durable records only). @default true */
  readonly durable?: boolean
}

/** Every option of {@link FsmSubmitOptions}. */
const FSM_SUBMIT_OPTION_NAMES = optionNames<FsmSubmitOptions<unknown, string>>()(['conversationId', 'name', 'taskId', 'initialState', 'states', 'context', 'timeout', 'maxTransitions', 'signal', 'priority', 'durable'])

/** Options of {@link FsmExecutor}: an executor to share, or options to create one. */
export type FsmExecutorOptions = ConcurrentExecutorOptions & {
  /** Share this executor (e.g. `engine.background`); the other options are then ignored. */
  readonly executor?: ConcurrentExecutor
}

/**
 * Runs state machines in the background, per conversation.
 * @example
 * const fsm = new FsmExecutor({ executor: background })
 * const id = fsm.submit({
 *   conversationId: 'conversation123', name: 'user_verification', initialState: 'initial_state',
 *   context: { user_data: 'example' },
 *   states: { initial_state: { run: () => 'final_state' }, final_state: { run: () => DONE } },
 * })
 * const { finalState, context, transitions } = (await fsm.result(id))!
 */
export class FsmExecutor implements AsyncDisposable {
  /** The executor the machines run on. */
  readonly executor: ConcurrentExecutor
  readonly #owned: boolean

  constructor(options: FsmExecutorOptions = {}) {
    const { executor, ...rest } = options
    this.executor = executor ?? new ConcurrentExecutor(rest)
    this.#owned = executor === undefined
  }

  /** Defines the machine (throws `TW_FSM_UNKNOWN_STATE` / `TW_INVALID_OPTION` for a bad one) and runs it in the background. */
  submit<C, S extends string>(options: FsmSubmitOptions<C, S>): BackgroundTaskId<StateMachineResult<C, S>> {
    refuseUnknownOptions('FsmExecutor.submit', options, FSM_SUBMIT_OPTION_NAMES)
    const machine = defineStateMachine<C, S>({
      name: options.name,
      initial: options.initialState,
      states: options.states,
      context: options.context,
      ...(options.maxTransitions !== undefined ? { maxTransitions: options.maxTransitions } : {}),
    })
    return this.executor.submit({
      conversationId: options.conversationId,
      name: options.name,
      ...(options.taskId !== undefined ? { taskId: options.taskId } : {}),
      run: machine,
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.durable !== undefined ? { durable: options.durable } : {}),
    })
  }

  /**
   * Final state, final context and transitions once the machine ends, whatever the ending
   * (`status` and `error` say which; a cancelled or timed-out machine reports where it was).
   * Undefined when the id is unknown, forgotten, or not a state-machine task. Rejects only when
   * `options.signal` aborts first (with its reason): the wait stops, the machine goes on.
   */
  async result<C, S extends string>(id: BackgroundTaskId<StateMachineResult<C, S>> | string, options: { readonly signal?: AbortSignal } = {}): Promise<StateMachineResult<C, S> | undefined> {
    const outcome = await this.executor.result<StateMachineResult<C, S>>(id, options)
    return outcome?.kind === 'state-machine' ? outcome.value : undefined
  }

  /** The task's state and timings (the latest transition is in `progress`). */
  status(id: string): BackgroundTaskInfo | undefined {
    return this.executor.status(id)
  }

  /** Cancels a running machine. */
  cancel(id: string, reason?: string): boolean {
    return this.executor.cancel(id, reason)
  }

  /** Cancels and forgets everything of a conversation (on the shared executor: its other tasks too). */
  endConversation(conversationId: string): EndConversationResult {
    return this.executor.endConversation(conversationId)
  }

  /** Closes the executor if this instance created it; a shared one is left to its owner. */
  close(): Promise<void> {
    return this.#owned ? this.executor.close() : Promise.resolve()
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
