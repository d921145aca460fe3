/**
 * Tasks added at run time (by a tool, a completion handler or the run handle) are copied into
 * plain data the moment they are added: what joins the run is that copy, so a caller that reuses
 * or changes its spec object afterwards changes nothing, and a spec a journal or a remote worker
 * could not carry (a function, a BigInt, a symbol, a cycle) is refused with the task and field.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { TaskSpec } from '../workflow/types.js'

/** Deeper than any real task spec; also keeps a hostile one from overflowing the stack. */
const MAX_DEPTH = 200

/** Copies `spec` as plain JSON-like data; throws `TW_VALIDATION` naming the task and the field that is not. */
export function plainTaskSpec(spec: TaskSpec): TaskSpec {
  let id = '(no id)'
  try {
    if (typeof spec === 'object' && spec !== null && typeof spec.id === 'string') id = spec.id
    return copyPlain(spec, [], 0, new Set()) as TaskSpec
  } catch (err) {
    if (err instanceof NotPlain) {
      const field = err.path.length > 0 ? err.path.join('.') : '(the spec itself)'
      throw new TaskweaveError('TW_VALIDATION', `added task "${id}": ${field} ${err.problem}; task specs are plain data (strings, numbers, booleans, null, arrays, objects)`, {
        retryable: false,
        details: { taskId: id, field },
      })
    }
    // A getter or a Proxy trap of the caller's object threw.
    throw new TaskweaveError('TW_VALIDATION', `added task "${id}": its spec could not be read`, { retryable: false, cause: err, details: { taskId: id } })
  }
}

class NotPlain extends Error {
  constructor(
    readonly path: readonly (string | number)[],
    readonly problem: string,
  ) {
    super(problem)
  }
}

function copyPlain(value: unknown, path: (string | number)[], depth: number, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw new NotPlain(path, `is ${String(value)}, which JSON cannot carry`)
      return value
    case 'object': {
      if (value === null) return null
      if (depth > MAX_DEPTH) throw new NotPlain(path, `is nested more than ${MAX_DEPTH} levels deep`)
      if (seen.has(value)) throw new NotPlain(path, 'refers back to itself (a cycle)')
      seen.add(value)
      let copy: unknown
      if (Array.isArray(value)) {
        const out: unknown[] = []
        for (let k = 0; k < value.length; k++) out.push(copyPlain(value[k], [...path, k], depth + 1, seen))
        copy = out
      } else {
        const proto = Object.getPrototypeOf(value) as unknown
        if (proto !== Object.prototype && proto !== null) throw new NotPlain(path, `is a ${describeClass(value)}, not a plain object`)
        // Null prototype: a key named "__proto__" stays an ordinary field.
        const out = Object.create(null) as Record<string, unknown>
        for (const key of Object.keys(value)) {
          const field = copyPlain((value as Record<string, unknown>)[key], [...path, key], depth + 1, seen)
          if (field !== undefined) out[key] = field
        }
        copy = out
      }
      seen.delete(value)
      return copy
    }
    default:
      throw new NotPlain(path, `is a ${typeof value}`)
  }
}

function describeClass(value: object): string {
  const name = (value.constructor as { name?: unknown } | undefined)?.name
  return typeof name === 'string' && name !== '' ? name : 'class instance'
}
