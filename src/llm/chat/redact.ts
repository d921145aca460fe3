/**
 * Keeping the API key out of everything `llm.chat` produces. The key reaches the provider in the
 * `Authorization` header only; whatever comes back (an error body that echoes the header, a
 * provider message quoting a masked key such as `sk-abc*****xyz`, a connection error naming the
 * URL) passes through {@link redact} before it becomes an error message, a detail or a cause.
 * Raw client errors are never attached as causes: {@link sanitizedError} copies the parts a report
 * shows (name, message, code, stack, cause chain), each redacted.
 * @module
 */

/** What replaces a secret in text. */
export const REDACTED = '[redacted]'

// A word with a run of asterisks: how providers quote a key they refuse (`sk-proj-ab****wxyz`).
const MASKED_WORD = /[^\s"'`<>()[\]{},;]*\*{3,}[^\s"'`<>()[\]{},;.]*/g

/**
 * `text` with every occurrence of `secret` replaced by `[redacted]`, and every masked form of it
 * too: a word made of a prefix of the secret, three or more `*`, and a suffix of the secret.
 * An empty or missing secret leaves the text as it is.
 */
export function redact(text: string, secret: string | undefined): string {
  if (secret === undefined || secret.length === 0) return text
  const plain = text.split(secret).join(REDACTED)
  return plain.replace(MASKED_WORD, (word) => (isMaskOf(word, secret) ? REDACTED : word))
}

/** Whether `word` (`<head>***<tail>`) shows only a prefix and a suffix of `secret`. */
function isMaskOf(word: string, secret: string): boolean {
  const head = /^[^*]*/.exec(word)?.[0] ?? ''
  const tail = /[^*]*$/.exec(word)?.[0] ?? ''
  return (head.length > 0 || tail.length > 0) && secret.startsWith(head) && secret.endsWith(tail)
}

/** Deepest cause copied by {@link sanitizedError}. */
const MAX_CAUSE_DEPTH = 4

/**
 * A plain `Error` copy of `err` fit to travel as a cause: name, message, stack and string `code`
 * redacted, the cause chain copied the same way (at most four deep). Response headers, bodies and
 * request options the original may hold are left behind. Never throws.
 */
export function sanitizedError(err: unknown, secret: string | undefined, depth = 0): Error {
  const copy = new Error(redact(textOf(err, 'message') ?? String(safeString(err)), secret))
  copy.name = redact(textOf(err, 'name') ?? 'Error', secret)
  const stack = textOf(err, 'stack')
  copy.stack = stack === undefined ? `${copy.name}: ${copy.message}` : redact(stack, secret)
  const code = textOf(err, 'code')
  if (code !== undefined) Object.assign(copy, { code: redact(code, secret) })
  const cause = read(err, 'cause')
  if (cause !== undefined && cause !== err && depth < MAX_CAUSE_DEPTH) copy.cause = sanitizedError(cause, secret, depth + 1)
  return copy
}

function read(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

function textOf(value: unknown, key: string): string | undefined {
  const found = read(value, key)
  return typeof found === 'string' ? found : undefined
}

function safeString(value: unknown): string {
  try {
    return String(value)
  } catch {
    return 'an unprintable value'
  }
}
