/**
 * The stdio servers this process started and has not closed: when the process exits (a CLI run
 * ends with `process.exit`, which runs no `close()`), each is sent SIGTERM, so no server outlives
 * the program that started it.
 * @module
 */

/** What is needed of a stdio transport: its child's pid, and when it closes. */
export interface StdioChild {
  readonly pid: number | null
}

class StdioChildren {
  readonly #live = new Set<StdioChild>()
  #hooked = false

  /** Ends `transport`'s server with this process, unless it closed before. */
  track(transport: StdioChild): void {
    this.#live.add(transport)
    if (!this.#hooked) {
      this.#hooked = true
      process.once('exit', () => this.#endAll())
    }
  }

  /** The transport closed (its process ended, or is ending): nothing to end at exit, and its pid may be reused. */
  forget(transport: StdioChild): void {
    this.#live.delete(transport)
  }

  #endAll(): void {
    for (const child of this.#live) {
      if (child.pid === null) continue
      try {
        process.kill(child.pid, 'SIGTERM')
      } catch {
        // Gone already.
      }
    }
    this.#live.clear()
  }
}

/** The one registry of this process. */
export const stdioChildren = new StdioChildren()
