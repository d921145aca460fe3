/** Measured mean duration per tool: the critical-path cost of tasks that give no `cost` hint. @module */

interface ToolStat {
  count: number
  mean: number
}

/** Running means of attempt durations, per tool name. */
export class ToolStats {
  readonly #stats = new Map<string, ToolStat>()
  /** The last tool recorded: completions mostly come in runs of the same tool. */
  #lastTool: string | undefined
  #last: ToolStat | undefined

  /** Adds one successful attempt's duration. */
  record(tool: string, durationMs: number): void {
    let entry = tool === this.#lastTool ? this.#last : this.#stats.get(tool)
    if (entry === undefined) {
      entry = { count: 0, mean: 0 }
      this.#stats.set(tool, entry)
    }
    this.#lastTool = tool
    this.#last = entry
    entry.count++
    entry.mean += (durationMs - entry.mean) / entry.count
  }

  /** Mean duration of a tool's attempts, or undefined before the first one. */
  meanMs(tool: string): number | undefined {
    return this.#stats.get(tool)?.mean
  }
}
