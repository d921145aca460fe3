/**
 * Message bodies as JSON text. The memory adapters keep the text, not the value: every delivery
 * parses a fresh copy, so neither the sender nor a consumer can change a message behind the
 * queue's back, as on a real broker. A body that JSON would silently change (a function, a
 * symbol, `undefined` in an array, NaN, a Date, a Map, a class instance) or cannot write at all
 * (a cycle, a BigInt) is refused with the path to the offending value, rather than delivered
 * different from what was sent.
 * @module
 */
import { describeThrown } from '../../core/thrown.js'

/**
 * The JSON text of `value`, or `fail(problem)` thrown when `value` is not plain JSON data.
 * `undefined` object properties are allowed (JSON leaves them out, as optional fields expect).
 */
export function toJsonText(value: unknown, fail: (problem: string) => Error): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    // Cycles and BigInts throw here; a very deep value overflows the stack.
    throw fail(`it cannot be written as JSON (${describeThrown(err)})`)
  }
  if (text === undefined) throw fail(`it is ${kindOf(value)}, not JSON data`)
  // JSON.stringify succeeded, so the value is a finite tree (shared nodes at worst): the walk ends.
  const problem = firstProblem(value)
  if (problem !== undefined) throw fail(problem)
  return text
}

/** Where and what the first value JSON would change is, or undefined when there is none. */
function firstProblem(root: unknown): string | undefined {
  const stack: Array<{ readonly value: unknown; readonly path: string }> = [{ value: root, path: 'body' }]
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { readonly value: unknown; readonly path: string }
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return `${path} is ${value}, which JSON turns into null`
      continue
    }
    if (typeof value !== 'object') return `${path} is ${kindOf(value)}, not JSON data`
    if (Array.isArray(value)) {
      for (let k = value.length - 1; k >= 0; k--) {
        const item: unknown = value[k]
        if (item === undefined) return `${path}[${k}] is undefined, which JSON turns into null`
        stack.push({ value: item, path: `${path}[${k}]` })
      }
      continue
    }
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) return `${path} is ${kindOf(value)}, not a plain object`
    const record = value as Record<string, unknown>
    const keys = Object.keys(record)
    for (let k = keys.length - 1; k >= 0; k--) {
      const key = keys[k] as string
      const item = record[key]
      if (item !== undefined) stack.push({ value: item, path: `${path}.${key}` })
    }
  }
  return undefined
}

/** A few words for what a value is: `a function`, `a Date`, `undefined`. */
function kindOf(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (typeof value === 'object' && value !== null) {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
    return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object'
  }
  return `a ${typeof value}`
}
