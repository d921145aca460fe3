/**
 * Refusing option names a function does not know, so a typo (`resumeOnstart`) is an error that
 * names it instead of a default silently applied.
 * @module
 */
import { InvalidOptionError, TaskweaveError } from './errors.js'

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
  // for…in rather than Object.keys: no array per call (it runs on every background submit).
  for (const name in options) {
    if (!Object.hasOwn(options, name) || known.includes(name)) continue
    throw unknownOption(where, name, known, prefix)
  }
}

/** The error for option `name`, with the known names closest to it. Apart: its closures would give every call above a context. */
function unknownOption(where: string, name: string, known: readonly string[], prefix: string): TaskweaveError {
  const close = known.filter((k) => k.toLowerCase().startsWith(name.toLowerCase().slice(0, 3)))
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
