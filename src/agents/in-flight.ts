/**
 * Calls into agent code that have not settled yet (`create`, an execution, `dispose`), so that a
 * pool closing past its grace period can say exactly what it left behind instead of waiting for
 * a promise that may never settle.
 * @module
 */

/** Which call into agent code an entry is. */
export type InFlightStage = 'create' | 'execute' | 'dispose'

/** One call into agent code that had not settled when the pool finished closing. */
export interface AbandonedWork {
  readonly stage: InFlightStage
  readonly agent: string
  readonly sessionId: string
  /** Set for executions. */
  readonly executionId?: string
}

/** What `AgentSessionPool.close()` resolves with. */
export interface AgentPoolCloseReport {
  /** True when every execution, creation and disposal settled within the grace period. */
  readonly clean: boolean
  /** The grace period the close was given, in ms. */
  readonly graceMs: number
  /**
   * Calls into agent code still pending when the close finished: their agent ignored the abort
   * (or never settles). Their callers' promises were rejected with `TW_AGENT_CLOSED`; the pool no
   * longer waits for them.
   */
  readonly abandoned: readonly AbandonedWork[]
}

/** A set of pending calls; each leaves the set when its promise settles, whichever way. */
export class InFlight {
  readonly #entries = new Set<AbandonedWork>()

  /** Pending calls. */
  get size(): number {
    return this.#entries.size
  }

  /** Registers `work` until `promise` settles; returns `promise`. */
  track<T>(work: AbandonedWork, promise: Promise<T>): Promise<T> {
    this.#entries.add(work)
    const done = (): void => {
      this.#entries.delete(work)
    }
    promise.then(done, done)
    return promise
  }

  /** A copy of the pending calls, oldest first. */
  list(): AbandonedWork[] {
    return [...this.#entries]
  }
}
