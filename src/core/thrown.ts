/**
 * The one safe reader of thrown values. User code can throw anything: an Error whose `code` or
 * `message` getter throws, a revoked Proxy (every operation on it throws, `instanceof` included),
 * an object whose `toString` or `Symbol.toPrimitive` throws, a cause chain that loops, a 10 MB
 * message. Code that reports a failure must not fail itself, or the process crashes (or, with
 * `--unhandled-rejections=warn`, the failed work stays `running` forever). So every read of a
 * thrown value goes through here: each property is read once inside a `try`, strings are capped,
 * and nothing in this module throws.
 * @module
 */

/** Longest message kept; a longer one is cut and says how much was dropped. */
export const MAX_MESSAGE_CHARS = 16 * 1024
/** Longest stack kept (V8 repeats the message in the stack, so it can be as large). */
export const MAX_STACK_CHARS = 16 * 1024
/** Longest `name` or `code` kept: they are identifiers, not prose. */
const MAX_NAME_CHARS = 200

/** The outcome of reading one property: its value, or why the read threw. */
type Read = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly why: string }

/**
 * Reads `value[key]` without letting a getter, a Proxy trap or a revoked Proxy throw out. `why`
 * names what went wrong in words fit for a message.
 */
export function readProperty(value: object, key: PropertyKey): Read {
  try {
    return { ok: true, value: (value as Record<PropertyKey, unknown>)[key] }
  } catch (err) {
    return { ok: false, why: whyUnreadable(err, typeof key === 'symbol' ? 'a symbol key' : `its ${String(key)} getter`) }
  }
}

/** `value[key]` when it is a string (capped), else undefined; never throws. */
export function readString(value: object, key: PropertyKey, max = MAX_NAME_CHARS): string | undefined {
  const read = readProperty(value, key)
  return read.ok && typeof read.value === 'string' ? capString(read.value, max) : undefined
}

/** Whether `value` is an `Error` (false when even asking throws, as for a revoked Proxy). */
export function isErrorLike(value: unknown): value is Error {
  try {
    return value instanceof Error
  } catch {
    return false
  }
}

/**
 * A message for any thrown value, never throwing: the `message` of an error, the text of a
 * string, `String(value)` of anything else, or "threw a value that cannot be described (…)" with
 * the reason when even that throws. Use it wherever a thrown value would go into a template
 * string, `String(err)` or `err.message`.
 */
export function describeThrown(value: unknown): string {
  if (typeof value === 'string') return capString(value, MAX_MESSAGE_CHARS)
  if (typeof value === 'symbol') return value.description !== undefined ? `Symbol(${capString(value.description, MAX_NAME_CHARS)})` : 'Symbol()'
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return String(value)
  const message = readProperty(value, 'message')
  if (!message.ok) return undescribable(message.why)
  if (typeof message.value === 'string') return capString(message.value, MAX_MESSAGE_CHARS)
  const text = stringOf(value)
  // `[object Object]` says nothing; say at least that a non-error was thrown.
  return text.startsWith('[object ') ? `threw a value that is not an Error (${text.slice(1, -1)})` : text
}

/** Cuts `text` to `max` characters (never inside a surrogate pair) and says how many were dropped. */
export function capString(text: string, max: number): string {
  if (text.length <= max) return text
  let end = max
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end-- // a lone high surrogate would make invalid UTF-16
  return `${text.slice(0, end)}… (${text.length - end} more characters)`
}

/** The message for a value that could not be read at all. */
export function undescribable(why: string): string {
  return `threw a value that cannot be described (${why})`
}

/** `String(value)` of an object, or why it could not be converted. */
function stringOf(value: object): string {
  try {
    // `String()` always gives a string or throws; a user's toString is what can throw here.
    const thrown: unknown = value // typed unknown: its own toString may exist (the default one is handled by the caller)
    return capString(String(thrown), MAX_MESSAGE_CHARS)
  } catch (err) {
    const toPrimitive = readProperty(value, Symbol.toPrimitive)
    const culprit = toPrimitive.ok && typeof toPrimitive.value === 'function' ? 'its Symbol.toPrimitive' : 'its toString'
    return undescribable(whyUnreadable(err, culprit))
  }
}

/**
 * Why reading or converting failed. A revoked Proxy is recognised by the TypeError V8 raises for
 * it; the caught error is itself read only through a native, trusted path (`instanceof TypeError`
 * on a value the engine threw).
 */
function whyUnreadable(err: unknown, culprit: string): string {
  try {
    if (err instanceof TypeError && typeof err.message === 'string' && err.message.includes('revoked')) return 'revoked Proxy'
  } catch {
    // The culprit threw something hostile itself; the generic reason below still holds.
  }
  return `${culprit} threw`
}
