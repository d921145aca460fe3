/** Measured mean duration per tool: the critical-path cost of tasks that give no `cost` hint. @module */

/** Running means of attempt durations, per tool name. */
export class ToolStats {
  readonly #stats = new Map<string, { count: number; mean: number }>()

  /** Adds one successful attempt's duration. */
  record(tool: string, durationMs: number): void {
    const entry = this.#stats.get(tool)
    if (entry === undefined) this.#stats.set(tool, { count: 1, mean: durationMs })
    else {
      entry.count++
      entry.mean += (durationMs - entry.mean) / entry.count
    }
  }

  /** Mean duration of a tool's attempts, or undefined before the first one. */
  meanMs(tool: string): number | undefined {
    return this.#stats.get(tool)?.mean
  }
}
