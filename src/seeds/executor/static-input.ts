/**
 * Decides whether a call's parameters can be its task's static input, and copies them. A static
 * input costs the same per call however many calls a batch holds; a declared run input does not
 * (the run checks declared inputs against each other). It is taken only where it changes nothing
 * the tool sees:
 *
 * - plain JSON data only: strings, finite numbers, booleans, null, arrays and objects whose
 *   prototype is `Object.prototype` or null, without `toJSON`. Anything else (a `Date`, a class
 *   instance, `NaN`, a BigInt, a cycle) keeps the run-input path, whose JSON conversion and error
 *   messages stay exactly what they were;
 * - no `{{` in any string or key, because a static input's strings are read as templates;
 * - at most {@link MAX_STATIC_UNITS} UTF-16 units of text, so the engine's input size limit (1 MiB
 *   by default) could never have refused it.
 *
 * The copy is deep, so a caller changing its parameters after the call starts changes nothing (as
 * with a run input). An `undefined` object value is left out, as JSON would; the copy then differs
 * from the parameters and is marked not `exact`.
 * @module
 */

import { isFlatValue } from '../../workflow/flat-task.js'
import { FORBIDDEN_SEGMENTS } from '../../workflow/template.js'

/**
 * Most text (keys and strings, in UTF-16 units) taken as a static input. A UTF-16 unit is at most
 * 3 UTF-8 bytes, so this many can never exceed the engine's default 1 MiB input limit.
 */
export const MAX_STATIC_UNITS = Math.floor((1024 * 1024) / 3)

/** Deepest nesting copied; deeper parameters keep the run-input path (no stack overflow here). */
const MAX_DEPTH = 64

/** A static copy of a call's parameters. */
export interface StaticCopy {
  readonly value: Record<string, unknown>
  /** True when the copy has the same shape as the parameters (no `undefined` value was left out), so a schema judges both alike. */
  readonly exact: boolean
}

/** Copies `parameters` when they can be a static input; undefined when they must stay a run input. */
export function staticCopy(parameters: object): StaticCopy | undefined {
  const state = { units: 0, exact: true }
  const value = copyObject(parameters, state, 0)
  return value === undefined ? undefined : { value, exact: state.exact }
}

/** {@link parametersKind}: the parameters can be a static input as they are. */
export const AS_IS = 0
/** {@link parametersKind}: the parameters need a copy (or a run input) to reach their tool. */
export const NOT_AS_IS = 1
/** {@link parametersKind}: a parameter's name is one no template path can hold (`__proto__`, a `}}`): the call cannot run. */
export const FORBIDDEN_NAME = 2

/**
 * What the parameters of a call are, in one pass over their own keys:
 * - {@link FORBIDDEN_NAME} when a name is refused (see `FORBIDDEN_SEGMENTS`);
 * - {@link AS_IS} when they can be a static input as they are: a plain object (no `toJSON`) whose
 *   own values are all strings without `{{`, finite numbers, booleans or null, with no `{{` in a
 *   key and at most {@link MAX_STATIC_UNITS} units of text. Such parameters need no copy of ours:
 *   the workflow's compilation pins a flat input as a copy of its own (the object the tool's schema
 *   returned, or a one-level copy: see `workflow/flat-task.ts`) before anything else runs;
 * - {@link NOT_AS_IS} otherwise (an enumerable inherited key included).
 *
 * Allocates nothing.
 */
export function parametersKind(parameters: object): number {
  const proto: unknown = Object.getPrototypeOf(parameters)
  let asIs = (proto === Object.prototype || proto === null) && (parameters as { toJSON?: unknown }).toJSON === undefined
  let units = 0
  const record = parameters as Readonly<Record<string, unknown>>
  for (const key in record) {
    const own = Object.hasOwn(record, key)
    if (own && (FORBIDDEN_SEGMENTS.has(key) || key.includes('}}'))) return FORBIDDEN_NAME
    if (!asIs) continue
    // An enumerable key inherited from a polluted `Object.prototype`: whatever copies the
    // parameters by `for…in` would take it along, so they go to the copy, which takes own keys only.
    if (!own) {
      asIs = false
      continue
    }
    const value = record[key]
    if (key === '__proto__' || key.includes('{{') || !isFlatValue(value)) asIs = false
    else units += key.length + (typeof value === 'string' ? value.length : 0)
  }
  return asIs && units <= MAX_STATIC_UNITS ? AS_IS : NOT_AS_IS
}

interface CopyState {
  units: number
  exact: boolean
}

// A unique marker: `undefined` is a legal result (an object value left out), so failure needs its own.
const NOT_PLAIN: unique symbol = Symbol('not plain')

function copyValue(value: unknown, state: CopyState, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      state.units += value.length
      return value.includes('{{') ? NOT_PLAIN : value
    case 'number':
      return Number.isFinite(value) ? value : NOT_PLAIN
    case 'boolean':
      return value
    case 'object':
      if (value === null) return null
      if (depth >= MAX_DEPTH) return NOT_PLAIN
      if (Array.isArray(value)) return copyArray(value, state, depth + 1) ?? NOT_PLAIN
      return copyObject(value, state, depth + 1) ?? NOT_PLAIN
    default:
      return NOT_PLAIN
  }
}

function copyArray(items: readonly unknown[], state: CopyState, depth: number): unknown[] | undefined {
  const out = new Array<unknown>(items.length)
  for (let i = 0; i < items.length; i++) {
    // JSON turns a hole or `undefined` in an array into null: not the same data, so not static.
    const item = copyValue(items[i], state, depth)
    if (item === NOT_PLAIN || item === undefined) return undefined
    out[i] = item
  }
  return state.units > MAX_STATIC_UNITS ? undefined : out
}

function copyObject(source: object, state: CopyState, depth: number): Record<string, unknown> | undefined {
  const proto: unknown = Object.getPrototypeOf(source)
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in source) return undefined
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(source)) {
    const raw = (source as Record<string, unknown>)[key]
    if (raw === undefined) {
      state.exact = false
      continue
    }
    state.units += key.length
    // `__proto__` would set the copy's prototype rather than a key; such parameters keep the run-input path.
    if (key.includes('{{') || key === '__proto__') return undefined
    const item = copyValue(raw, state, depth)
    if (item === NOT_PLAIN) return undefined
    out[key] = item
  }
  return state.units > MAX_STATIC_UNITS ? undefined : out
}
