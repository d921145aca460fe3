/**
 * The one guard around every call into agent code (`create`, `execute`, `stream` and its iterator,
 * `dispose`). Agent code may throw synchronously, reject, return a thenable whose `then` getter
 * throws, or throw values that cannot even be read (a revoked Proxy, an Error whose `code` getter
 * throws, an object whose `toString` throws). Whatever happens, the guarded call returns a promise,
 * and it rejects only with a value the pool can report: the agent's own error when it reads cleanly
 * (so its code and retryability stay the agent's), else a `TaskweaveError` made by `onThrown`.
 * @module
 */
import { toReportable } from '../fsm/thrown.js'

/**
 * Calls `call` and settles with its value; a throw or rejection becomes `onThrown(value)`. Never
 * throws synchronously; `onThrown` must not throw either (build it on `readThrown`/`toReportable` of
 * `fsm/thrown.ts`, as {@link reportableAgentError} does).
 */
export function callAgent<T>(call: () => T | PromiseLike<T>, onThrown: (thrown: unknown) => unknown): Promise<Awaited<T>> {
  let result: Promise<Awaited<T>>
  try {
    // Promise.resolve reads `then` of the returned value: a throwing getter becomes a rejection here.
    result = Promise.resolve(call())
  } catch (err) {
    return Promise.reject(onThrown(err))
  }
  return result.then(undefined, (err: unknown) => {
    throw onThrown(err)
  })
}

/** For `execute` and `stream`: the agent's error as it is when readable, else `TW_AGENT_FAILED`. */
export function reportableAgentError(agent: string, sessionId: string): (thrown: unknown) => unknown {
  return (thrown) => toReportable(thrown, 'TW_AGENT_FAILED', `agent "${agent}" failed in session "${sessionId}" with an unreadable error`)
}
