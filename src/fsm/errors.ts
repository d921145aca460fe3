/**
 * Errors that end a state machine. Each names the state it happened in (`details.state`), so a
 * caller can tell "the lookup state kept failing" from "the review state pointed nowhere".
 * @module
 */
import { TaskweaveError } from '../core/errors.js'

/** Codes a state machine ends with (besides `TW_TIMEOUT` and `TW_CANCELLED`). */
export type StateMachineErrorCode = 'TW_FSM_UNKNOWN_STATE' | 'TW_FSM_MAX_TRANSITIONS' | 'TW_FSM_STATE_FAILED'

/** Fields of a {@link StateMachineError}. */
export interface StateMachineErrorOptions {
  /** The state the machine was in. */
  readonly state: string
  readonly cause?: unknown
  /** More structured context (the unknown name, the limit…). */
  readonly details?: Readonly<Record<string, unknown>>
}

/**
 * A state machine went wrong: a state named a state that does not exist
 * (`TW_FSM_UNKNOWN_STATE`), the machine exceeded `maxTransitions` (`TW_FSM_MAX_TRANSITIONS`), or a
 * state kept throwing after its retries (`TW_FSM_STATE_FAILED`, the last error as `cause`).
 * Never retryable: the machine already retried its states, and a wrong name stays wrong.
 */
export class StateMachineError extends TaskweaveError {
  /** The state the machine was in. */
  readonly state: string

  constructor(code: StateMachineErrorCode, message: string, options: StateMachineErrorOptions) {
    super(code, message, {
      retryable: false,
      details: { ...options.details, state: options.state },
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    })
    this.name = 'StateMachineError'
    this.state = options.state
  }
}
