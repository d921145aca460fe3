/**
 * Refusing option names a function does not know, so a typo (`resumeOnstart`) is an error that
 * names it instead of a default silently applied.
 * @module
 */
import { editDistance } from './closest.js'
import { describeValue, InvalidOptionError, TaskweaveError } from './errors.js'

/**
 * The option names of `T`, listed once beside its interface: `optionNames<FsToolOptions>()(['root', …])`.
 * The list fails to compile when it names something `T` lacks or leaves out one of its keys, so
 * it cannot drift from the interface it guards.
 */
export function optionNames<T>(): <const N extends readonly (keyof T & string)[]>(names: N & ([Exclude<keyof T & string, N[number]>] extends [never] ? unknown : { readonly missing: Exclude<keyof T & string, N[number]> })) => readonly string[] {
  return (names) => names
}

/**
 * Throws `TW_INVALID_OPTION` naming the first option of `options` that `known` does not list.
 * `where` names the function (`createEngine`); `prefix` the options' place in its argument
 * (`durability.`), so the message names the option as the caller wrote it.
 */
export function refuseUnknownOptions(where: string, options: object, known: readonly string[], prefix = ''): void {
  // null, a number or a string where options go would otherwise fail later as a bare TypeError.
  if (typeof options !== 'object' || options === null) throw notOptions(where, options, prefix)
  // for…in rather than Object.keys: no array per call (it runs on every background submit).
  for (const name in options) {
    if (!Object.hasOwn(options, name) || known.includes(name)) continue
    throw unknownOption(where, name, known, prefix)
  }
}

/** The error for options that are not an object. */
function notOptions(where: string, options: unknown, prefix: string): TaskweaveError {
  const what = prefix === '' ? `${where}() takes an object of options` : `option "${prefix.slice(0, -1)}" of ${where}() must be an object of options`
  return new TaskweaveError('TW_INVALID_OPTION', `${what}; received ${describeValue(options)}`, { retryable: false, ...(prefix === '' ? {} : { details: { option: prefix.slice(0, -1) } }) })
}

/**
 * Throws `TW_INVALID_OPTION` unless `value` is an object with every method of `methods` (a clock,
 * a logger, a store passed as an option): a value without them would fail at its first use, far
 * from the call that gave it.
 */
export function checkMethods(value: unknown, field: string, methods: readonly string[]): void {
  if (value === undefined) return
  const missing = typeof value === 'object' && value !== null ? methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function') : methods
  if (missing.length > 0) throw new InvalidOptionError(field, `an object with the methods ${methods.join(', ')}${typeof value === 'object' && value !== null ? ` (it lacks ${missing.join(', ')})` : ''}`, value)
}

/** The error for option `name`, with the known names closest to it. Apart: its closures would give every call above a context. */
function unknownOption(where: string, name: string, known: readonly string[], prefix: string): TaskweaveError {
  const lower = name.toLowerCase()
  // Same start (`concurency` → `concurrency`) or a typo or two away (`prority` → `priority`).
  const close = known.filter((k) => k.toLowerCase().startsWith(lower.slice(0, 3)) || editDistance(k.toLowerCase(), lower) <= 2)
  const hint = close.length > 0 ? `; did you mean ${close.map((k) => `"${prefix}${k}"`).join(' or ')}?` : `; known options: ${known.map((k) => `${prefix}${k}`).join(', ')}`
  return new TaskweaveError('TW_INVALID_OPTION', `unknown option "${prefix}${name}" of ${where}()${hint}`, { retryable: false, details: { option: `${prefix}${name}` } })
}

/**
 * Throws `TW_INVALID_OPTION` for a `priority` that is not a finite number: a NaN among the
 * priorities of a queue would break its order for everyone else waiting there.
 */
export function checkPriority(priority: unknown, field = 'priority'): void {
  if (priority !== undefined && !(typeof priority === 'number' && Number.isFinite(priority))) throw new InvalidOptionError(field, 'a finite number', priority)
}

/**
 * Throws `TW_INVALID_OPTION` for a `signal` that is not an `AbortSignal`: taken as one, it would
 * throw later, inside a callback, where no caller can catch it.
 */
export function checkSignal(signal: unknown, field = 'signal'): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidOptionError(field, 'an AbortSignal', signal)
}

/** Throws `TW_INVALID_OPTION` for a callback option that is not a function. */
export function checkFunction(value: unknown, field: string): void {
  if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(field, 'a function', value)
}
