/**
 * Errors of the agent session pool. Each carries a `TW_AGENT_*` code; branch on the code
 * (`TaskweaveError.is(err, 'TW_AGENT_CLOSED')`). Errors thrown by an agent's own `execute` pass
 * through unchanged, so their codes and retryability stay the agent's; a thrown value that cannot be
 * read safely (a revoked Proxy, a throwing getter or `toString`) becomes `TW_AGENT_FAILED`.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import { readThrown, toReportable } from '../fsm/thrown.js'

/** Codes raised by the pool itself. */
export type AgentErrorCode = 'TW_AGENT_UNKNOWN' | 'TW_AGENT_CLOSED' | 'TW_AGENT_INPUT' | 'TW_AGENT_CREATE_FAILED' | 'TW_AGENT_FAILED'

/** An error raised by the agent session pool. */
export class AgentError extends TaskweaveError {
  constructor(code: AgentErrorCode, message: string, options: { readonly cause?: unknown; readonly retryable?: boolean; readonly details?: Readonly<Record<string, unknown>> } = {}) {
    super(code, message, options)
    this.name = 'AgentError'
  }
}

/** No agent of that name in the pool. Never retryable. */
export function unknownAgentError(name: string, known: readonly string[]): AgentError {
  const list = known.length > 0 ? known.map((n) => `"${n}"`).join(', ') : 'none'
  return new AgentError('TW_AGENT_UNKNOWN', `no agent named "${name}" in this pool (known: ${list})`, { retryable: false, details: { agent: name, known } })
}

/** The pool is closing or closed and takes no new executions. Never retryable. */
export function poolClosedError(): AgentError {
  return new AgentError('TW_AGENT_CLOSED', 'the agent session pool is closed', { retryable: false })
}

/** The pool's close grace period ran out before this work settled; the pool abandoned it. Never retryable. */
export function abandonedError(graceMs: number): AgentError {
  return new AgentError('TW_AGENT_CLOSED', `the agent session pool closed after its ${graceMs} ms grace period; this execution had not finished and was abandoned`, {
    retryable: false,
    details: { graceMs },
  })
}

/** The input failed the agent's schema. Never retryable. */
export function agentInputError(agent: string, issues: readonly ValidationIssue[], cause: unknown): AgentError {
  const text = issues.map((i) => (i.field ? `${i.field}: ${i.message}` : i.message)).join('; ')
  return new AgentError('TW_AGENT_INPUT', `invalid input for agent "${agent}": ${text}`, { retryable: false, cause, details: { agent, issues } })
}

/**
 * `create()` threw or rejected; the next execution of the session tries again. Retryable. Whatever
 * `cause` is, this never throws: its message is read defensively, and an unreadable cause is
 * replaced by a readable one.
 */
export function createFailedError(agent: string, sessionId: string, cause: unknown): AgentError {
  const where = `agent "${agent}" could not create an instance for session "${sessionId}"`
  return new AgentError('TW_AGENT_CREATE_FAILED', `${where}: ${readThrown(cause).message}`, {
    cause: toReportable(cause, 'TW_AGENT_CREATE_FAILED', where),
    details: { agent, sessionId },
  })
}
