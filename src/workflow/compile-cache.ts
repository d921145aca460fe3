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

/** One cached definition: its text, its form as a tree to compare against, and what it compiled to. */
interface CacheEntry {
  readonly text: string
  readonly id: string
  /** Tasks in the definition. */
  readonly taskCount: number
  readonly tree: JsonNode
  readonly compiled: CompiledWorkflow
}

/** Definitions of one id compared in turn before the text is made; the most recent are kept. */
const MAX_SAME_ID = 8

/**
 * A bounded least-recently-used map of definition text → compiled workflow.
 *
 * Writing a definition as JSON text to look it up was a tenth of a small run's cost. So a
 * definition is first compared, value by value, with the cached definitions of the same id (their
 * plain form, parsed back from their text): one that has the same keys in the same order and the
 * same values, with nothing JSON would write differently (see {@link sameAsJson}), has the same
 * text, and is a hit without making it. Anything else takes the text path.
 */
export class CompileCache {
  /** By text, least recently used first. */
  readonly #entries = new Map<string, CacheEntry>()
  /** The same entries by definition id, oldest first (at most {@link MAX_SAME_ID} per id). */
  readonly #byId = new Map<string, CacheEntry[]>()
  readonly #capacity: number
  /** The most recently used entry (the last of {@link #entries}). */
  #newest: CacheEntry | undefined = undefined

  /** @param capacity definitions kept (the least recently used goes first) */
  constructor(capacity = 256) {
    this.#capacity = capacity
  }

  /**
   * The compiled form of `definition`: from the cache when a definition with the same text was
   * compiled before, else `compile(definition)`'s (kept when it succeeds; a definition that fails to compile
   * throws again every time). Definitions too large to cache, or that cannot be written as JSON,
   * go straight to `compile(definition)`.
   */
  get<D>(definition: D, compile: (definition: D) => CompiledWorkflow): CompiledWorkflow {
    let same: CacheEntry | undefined
    try {
      same = this.#sameAs(definition)
    } catch {
      // A throwing getter or Proxy trap: the text path (and compiling) report it as before.
      same = undefined
    }
    if (same !== undefined) return this.#touch(same).compiled
    const text = cacheKeyOf(definition)
    if (text === undefined) return compile(definition)
    const hit = this.#entries.get(text)
    if (hit !== undefined) return this.#touch(hit).compiled
    const compiled = compile(definition)
    this.#add(text, compiled)
    return compiled
  }

  /** Definitions held. */
  get size(): number {
    return this.#entries.size
  }

  /** A cached entry whose text `definition` would have, found without writing it. */
  #sameAs(definition: unknown): CacheEntry | undefined {
    if (typeof definition !== 'object' || definition === null) return undefined
    const id = (definition as { id?: unknown }).id
    if (typeof id !== 'string') return undefined
    const candidates = this.#byId.get(id)
    if (candidates === undefined) return undefined
    const tasks = (definition as { tasks?: unknown }).tasks
    if (!Array.isArray(tasks)) return undefined
    for (let k = candidates.length - 1; k >= 0; k--) {
      const entry = candidates[k] as CacheEntry
      if (entry.taskCount === tasks.length && sameAsJson(definition, entry.tree, 0)) return entry
    }
    return undefined
  }

  /** Marks `entry` most recently used. */
  #touch(entry: CacheEntry): CacheEntry {
    // A conversation runs the same definition again and again: it is most often the newest already,
    // and moving it costs two hash operations on its text per run.
    if (this.#newest === entry) return entry
    this.#entries.delete(entry.text)
    this.#entries.set(entry.text, entry)
    this.#newest = entry
    return entry
  }

  #add(text: string, compiled: CompiledWorkflow): void {
    const plain = JSON.parse(text) as PlainDefinition
    const entry: CacheEntry = { text, id: plain.id, taskCount: plain.tasks.length, tree: jsonTree(plain), compiled }
    this.#entries.set(text, entry)
    this.#newest = entry
    let sameId = this.#byId.get(entry.id)
    if (sameId === undefined) this.#byId.set(entry.id, (sameId = []))
    sameId.push(entry)
    if (sameId.length > MAX_SAME_ID) sameId.shift()
    if (this.#entries.size > this.#capacity) this.#evict(this.#entries.values().next().value as CacheEntry)
  }

  #evict(entry: CacheEntry): void {
    this.#entries.delete(entry.text)
    if (this.#newest === entry) this.#newest = undefined
    const sameId = this.#byId.get(entry.id)
    if (sameId === undefined) return
    const at = sameId.indexOf(entry)
    if (at >= 0) sameId.splice(at, 1)
    if (sameId.length === 0) this.#byId.delete(entry.id)
  }
}

/** A cached definition's plain form: what `JSON.parse` gave back for its text. */
interface PlainDefinition {
  readonly id: string
  readonly tasks: readonly unknown[]
}

/**
 * A cached definition's plain form as a tree: each object's keys in order with their values'
 * nodes beside them, each array's items. Compared by index, where looking each object's keys up
 * (a `WeakMap`) and reading the plain form by key cost a third of a lookup.
 */
interface JsonNode {
  /** A string, number, boolean or null (for the other kinds: undefined). */
  readonly value: unknown
  /** An object's keys in order, or undefined for an array or a value. */
  readonly keys: readonly string[] | undefined
  /** An object's values (in key order) or an array's items, as nodes; undefined for a value. */
  readonly children: readonly JsonNode[] | undefined
}

function jsonTree(plain: unknown): JsonNode {
  if (typeof plain !== 'object' || plain === null) return { value: plain, keys: undefined, children: undefined }
  if (Array.isArray(plain)) return { value: undefined, keys: undefined, children: plain.map(jsonTree) }
  const keys = Object.keys(plain)
  return { value: undefined, keys, children: keys.map((key) => jsonTree((plain as Record<string, unknown>)[key])) }
}

/** Deepest nesting compared; anything deeper takes the text path. */
const MAX_DEPTH = 64

/**
 * True only when `JSON.stringify(value)` would be the text `node` was parsed from: the same keys in
 * the same order, equal strings, booleans, nulls and finite numbers (a finite number survives JSON
 * exactly), arrays of the same length. Whatever JSON would write in a way of its own (an
 * `undefined` or a function, a non-finite number, a `toJSON` on an object or an array, an object
 * or array that is not plain, a hole) makes it false, and the definition takes the text path, which
 * handles it as before. Every read is one JSON makes too, so a Proxy is compared as JSON would see it.
 */
function sameAsJson(value: unknown, node: JsonNode, depth: number): boolean {
  const children = node.children
  if (children === undefined) {
    const plain = node.value
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value === plain
      case 'number':
        return Number.isFinite(value) && value === plain
      case 'object':
        return value === null && plain === null
      default:
        return false
    }
  }
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return false
  // `toJSON` is read as JSON reads it (a Get, which a Proxy answers through its `get` trap,
  // unlike `in`): anything there takes the text path.
  if ((value as { toJSON?: unknown }).toJSON !== undefined) return false
  const keys = node.keys
  if (keys === undefined) {
    if (!Array.isArray(value) || value.length !== children.length || Object.getPrototypeOf(value) !== Array.prototype) return false
    for (let i = 0; i < children.length; i++) if (!sameAsJson(value[i], children[i] as JsonNode, depth + 1)) return false
    return true
  }
  if (Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  let k = 0
  // for…in visits own string keys in the order JSON writes them (the prototype is Object.prototype or null).
  for (const key in value) {
    if (key !== keys[k] || !sameAsJson((value as Record<string, unknown>)[key], children[k] as JsonNode, depth + 1)) return false
    k++
  }
  return k === keys.length
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
