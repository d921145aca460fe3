/**
 * Compiled workflows by the JSON text of their definition, for small definitions. A conversation
 * runs the same few-task workflow thousands of times, each time as a new object (built by code or
 * parsed from a file): validating and compiling it again cost more than running it. The text is
 * what compiling pins anyway (a definition is compiled as its JSON form), so two definitions with
 * the same text compile to the same workflow, and a compiled workflow is immutable and reusable
 * across runs. Large definitions are not cached: their text costs a fair share of a compile, and
 * their runs are long enough for compiling not to matter.
 * @module
 */
import type { CompiledWorkflow } from './compile.js'

/** Definitions with more tasks than this are compiled every time. */
export const MAX_CACHED_TASKS = 64
/** Nor are definitions whose JSON text is longer than this. */
export const MAX_CACHED_TEXT = 32_768

/** A bounded least-recently-used map of definition text → compiled workflow. */
export class CompileCache {
  readonly #entries = new Map<string, CompiledWorkflow>()
  readonly #capacity: number

  /** @param capacity definitions kept (the least recently used goes first) */
  constructor(capacity = 256) {
    this.#capacity = capacity
  }

  /**
   * The compiled form of `definition`: from the cache when a definition with the same text was
   * compiled before, else `compile()`'s (kept when it succeeds; a definition that fails to compile
   * throws again every time). Definitions too large to cache, or that cannot be written as JSON,
   * go straight to `compile()`.
   */
  get(definition: unknown, compile: () => CompiledWorkflow): CompiledWorkflow {
    const text = cacheKeyOf(definition)
    if (text === undefined) return compile()
    const hit = this.#entries.get(text)
    if (hit !== undefined) {
      // Most recently used last.
      this.#entries.delete(text)
      this.#entries.set(text, hit)
      return hit
    }
    const compiled = compile()
    this.#entries.set(text, compiled)
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value as string)
    return compiled
  }

  /** Definitions held. */
  get size(): number {
    return this.#entries.size
  }
}

/** The JSON text of a small definition, or undefined when it is not one (or not JSON). */
function cacheKeyOf(definition: unknown): string | undefined {
  if (typeof definition !== 'object' || definition === null) return undefined
  const tasks = (definition as { tasks?: unknown }).tasks
  if (!Array.isArray(tasks) || tasks.length > MAX_CACHED_TASKS) return undefined
  let text: string
  try {
    text = JSON.stringify(definition)
  } catch {
    // A BigInt, a cycle, a throwing getter: compiling reports it.
    return undefined
  }
  return typeof text === 'string' && text.length <= MAX_CACHED_TEXT ? text : undefined
}
