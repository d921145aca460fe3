/**
 * Refusing option names a function does not know, so a typo (`resumeOnstart`) is an error that
 * names it instead of a default silently applied.
 * @module
 */
import { TaskweaveError } from './errors.js'

/**
 * Throws `TW_INVALID_OPTION` naming the first option of `options` that `known` does not list.
 * `where` names the function (`createEngine`); `prefix` the options' place in its argument
 * (`durability.`), so the message names the option as the caller wrote it.
 */
export function refuseUnknownOptions(where: string, options: object, known: readonly string[], prefix = ''): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const close = known.filter((k) => k.toLowerCase().startsWith(name.toLowerCase().slice(0, 3)))
    const hint = close.length > 0 ? `; did you mean ${close.map((k) => `"${prefix}${k}"`).join(' or ')}?` : `; known options: ${known.map((k) => `${prefix}${k}`).join(', ')}`
    throw new TaskweaveError('TW_INVALID_OPTION', `unknown option "${prefix}${name}" of ${where}()${hint}`, { retryable: false, details: { option: `${prefix}${name}` } })
  }
}
