/**
 * Whether a worker function's return value can cross back to the main thread. Piscina posts the
 * value with the structured-clone algorithm; when that throws (a function, a symbol, a promise in
 * the value) the error is raised inside the thread after the task has "returned", the thread dies,
 * and the main thread is left with a rejection that prints as `[object Object]`. The thread entry
 * checks first and answers with an error that says what could not be sent and where.
 * @module
 */
import { describeThrown } from '../core/thrown.js'

/** Why `value` cannot be structured-cloned (with the path of the offending part), or undefined. */
export function uncloneableReason(value: unknown): string | undefined {
  if (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') return undefined
  if (value === null) return undefined
  try {
    structuredClone(value)
    return undefined
  } catch (err) {
    const reason = describeThrown(err)
    const path = pathOfUncloneable(value)
    return path === undefined ? reason : `${reason} (at output${path})`
  }
}

/** The path of the first function, symbol or promise in `root`, searched breadth-first. */
function pathOfUncloneable(root: unknown): string | undefined {
  const seen = new Set<unknown>()
  const queue: [unknown, string][] = [[root, '']]
  for (let i = 0; i < queue.length && i < 100_000; i++) {
    const [value, path] = queue[i] as [unknown, string]
    if (typeof value === 'function' || typeof value === 'symbol' || value instanceof Promise) return path
    if (typeof value !== 'object' || value === null || seen.has(value)) continue
    seen.add(value)
    const entries: [string, unknown][] = value instanceof Map ? [...value.entries()].map(([k, v]) => [`.get(${String(k)})`, v]) : Object.entries(value).map(([k, v]) => [Array.isArray(value) ? `[${k}]` : `.${k}`, v])
    for (const [key, child] of entries) queue.push([child, path + key])
  }
  return undefined
}
