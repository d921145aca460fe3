/** The tool registry: name → tool; duplicate names fail loudly; unknown names suggest close matches. @module */
import { editDistance } from './closest.js'
import type { AnyTool } from './tool.js'
import { TaskweaveError } from './errors.js'

/** Holds the tools a workflow may call. */
export class ToolRegistry {
  readonly #tools = new Map<string, AnyTool>()

  constructor(tools: Iterable<AnyTool> = []) {
    for (const tool of tools) this.register(tool)
  }

  /** Adds a tool; registering a different tool under a taken name throws. Re-registering the same tool is a no-op. */
  register(tool: AnyTool): this {
    const existing = this.#tools.get(tool.name)
    if (existing !== undefined && existing !== tool) {
      throw new TaskweaveError('TW_INVALID_OPTION', `a different tool named "${tool.name}" is already registered`, { retryable: false })
    }
    this.#tools.set(tool.name, tool)
    return this
  }

  /** The tool with this name, or undefined. */
  get(name: string): AnyTool | undefined {
    return this.#tools.get(name)
  }

  /** Whether a tool with this name exists. */
  has(name: string): boolean {
    return this.#tools.has(name)
  }

  /** Every registered tool name, sorted. */
  names(): string[] {
    return [...this.#tools.keys()].sort()
  }

  /** Every registered tool. */
  list(): AnyTool[] {
    return [...this.#tools.values()]
  }

  /** Registered names closest to `name` (edit distance ≤ 3 or sharing a prefix), best first. */
  suggest(name: string, max = 3): string[] {
    const lower = name.toLowerCase()
    return this.names()
      .map((candidate) => ({ candidate, distance: editDistance(lower, candidate.toLowerCase()) }))
      .filter(({ candidate, distance }) => distance <= 3 || candidate.toLowerCase().startsWith(lower.split('.')[0] ?? lower))
      .sort((a, b) => a.distance - b.distance)
      .slice(0, max)
      .map(({ candidate }) => candidate)
  }
}
