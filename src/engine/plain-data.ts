/**
 * Values that cross a task boundary are plain JSON data, deep-frozen: a task output, a run input,
 * a static tool input and everything made from them (template results, forEach items, what a
 * completion handler sees). That is what a report, a journal or a remote worker can carry, it is
 * deterministic (JSON semantics: `undefined` fields drop, `Date` becomes its ISO string, `NaN`
 * becomes null), and no task can change what another task, a retry, the report or the next run of
 * the same compiled workflow sees. Freezing was chosen over a private copy per consumer because it
 * costs one walk per value however many tasks read it (see docs/performance.md). What JSON cannot
 * carry (BigInt, a cycle) fails the task with a clear error, and so does a value over its size limit.
 * @module
 */
import { formatBytes } from '../core/bytes.js'
import { TaskweaveError } from '../core/errors.js'
import { freezeDeep } from '../core/freeze.js'

/** Returns `value` as deep-frozen plain JSON data; throws `TW_OUTPUT_TOO_LARGE` or `TW_OUTPUT_NOT_SERIALIZABLE`. */
export function toPlainData(value: unknown, maxBytes: number, taskId: string): unknown {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
      return value
    case 'number':
      // As JSON has it, so a journal's copy replays as the same value: NaN and ±Infinity are null, -0 is 0.
      return Number.isFinite(value) ? value + 0 : null
    case 'string':
      // A UTF-8 byte is at most 3 per UTF-16 unit: measure exactly only when it could matter.
      if (value.length * 3 > maxBytes) checkSize(Buffer.byteLength(value), maxBytes, taskId)
      return value
    case 'object': {
      if (value === null) return null
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch (err) {
        throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `output of task "${taskId}" is not plain data: ${describeStringifyFailure(err)}`, { retryable: false, cause: err, details: { taskId } })
      }
      if (text === undefined) return undefined
      if (text.length * 3 > maxBytes) checkSize(Buffer.byteLength(text), maxBytes, taskId)
      return freezeDeep(JSON.parse(text) as unknown)
    }
    default:
      throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `output of task "${taskId}" is a ${typeof value}, which is not plain data`, { retryable: false, details: { taskId } })
  }
}

/**
 * {@link toPlainData}, also giving the JSON text of the value (undefined for `undefined`): a
 * durable run stores the text made while normalising, rather than stringifying the output twice.
 */
export function toPlainDataWithText(value: unknown, maxBytes: number, taskId: string): { readonly value: unknown; readonly text: string | undefined } {
  if (typeof value === 'object' && value !== null) {
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (err) {
      throw new TaskweaveError('TW_OUTPUT_NOT_SERIALIZABLE', `output of task "${taskId}" is not plain data: ${describeStringifyFailure(err)}`, { retryable: false, cause: err, details: { taskId } })
    }
    if (text === undefined) return { value: undefined, text: undefined }
    if (text.length * 3 > maxBytes) checkSize(Buffer.byteLength(text), maxBytes, taskId)
    return { value: freezeDeep(JSON.parse(text) as unknown), text }
  }
  const plain = toPlainData(value, maxBytes, taskId)
  return { value: plain, text: plain === undefined ? undefined : JSON.stringify(plain) }
}

/**
 * The input an attempt receives when its task's input holds no template: the value was checked by
 * the tool's schema once, at compile time, and is shared by every attempt of every run of the
 * compiled workflow. Each attempt gets its own copy, so a tool may change its input as it likes;
 * an empty object (what most tasks without input get) is frozen instead, since copying it per
 * attempt would cost more than the rest of a no-op task. A value `structuredClone` cannot copy
 * (a function the schema let through) is frozen too.
 */
export function privateStaticInput(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (isEmpty(value)) return Object.isFrozen(value) ? value : Object.freeze(value)
  const flat = flatCopy(value)
  if (flat !== undefined) return flat
  try {
    return structuredClone(value)
  } catch {
    return freezeDeep(value)
  }
}

/**
 * A copy of a plain object whose values are all primitives (the usual `{ n: 1, url: '…' }`), or
 * undefined for anything else. For such an object a shallow copy is a deep one, and it costs a
 * small fraction of `structuredClone` (which a 10,000-call batch paid per call).
 */
function flatCopy(value: object): object | undefined {
  if (Object.getPrototypeOf(value) !== Object.prototype) return undefined
  const copy: Record<string, unknown> = {}
  const source = value as Record<string, unknown>
  for (const key in source) {
    const field = source[key]
    // `__proto__` as an own key (JSON.parse makes one) would set the copy's prototype here.
    if (key === '__proto__' || (typeof field === 'object' ? field !== null : typeof field === 'function')) return undefined
    copy[key] = field
  }
  return copy
}

function isEmpty(value: object): boolean {
  for (const _ in value) return false
  return true
}

/**
 * Whether the JSON text of plain data `value` would take more than `maxBytes`, found by a walk
 * that stops as soon as the limit is passed: a value built from many references to one large
 * output is refused without ever being serialised. Strings count their UTF-16 length (exact
 * for ASCII, and within 3× of the UTF-8 size otherwise).
 */
export function jsonExceeds(value: unknown, maxBytes: number): boolean {
  let total = 0
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const node = stack.pop()
    switch (typeof node) {
      case 'string':
        total += node.length + 2
        break
      case 'number':
        total += 8
        break
      case 'boolean':
        total += 5
        break
      case 'object':
        if (node === null) total += 4
        else if (Array.isArray(node)) {
          total += 1 + node.length
          for (let k = 0; k < node.length; k++) stack.push(node[k])
        } else {
          total += 2
          for (const key in node) {
            total += key.length + 4
            stack.push((node as Record<string, unknown>)[key])
          }
        }
        break
      default:
        break
    }
    if (total > maxBytes) return true
  }
  return false
}

/** Throws `TW_INPUT_TOO_LARGE` naming the task and field when `value` is over `maxBytes` as JSON. */
export function checkValueSize(value: unknown, maxBytes: number, taskId: string, field: string): void {
  if (!jsonExceeds(value, maxBytes)) return
  throw new TaskweaveError('TW_INPUT_TOO_LARGE', `${field} of task "${taskId}" is over ${formatBytes(maxBytes)} as JSON (raise maxOutputBytes, or pass file paths instead of large data)`, {
    retryable: false,
    details: { taskId, field, maxBytes },
  })
}

function checkSize(bytes: number, maxBytes: number, taskId: string): void {
  if (bytes <= maxBytes) return
  throw new TaskweaveError(
    'TW_OUTPUT_TOO_LARGE',
    `output of task "${taskId}" is ${formatBytes(bytes)} of JSON; the limit is ${formatBytes(maxBytes)}. Raise the engine's maxOutputBytes (createEngine({ maxOutputBytes })) or this tool's own maxOutputBytes; for fs.readFile, lower the fs tools' maxReadBytes instead; or store large data in files and pass their paths`,
    { retryable: false, details: { taskId, bytes, maxBytes, option: 'maxOutputBytes' } },
  )
}

/** The reason JSON.stringify gave up, without trusting the thrown value (it may come from a user's toJSON). */
function describeStringifyFailure(err: unknown): string {
  try {
    return err instanceof Error ? String(err.message) : String(err)
  } catch {
    return 'a value in it could not be serialised'
  }
}

export { formatBytes, freezeDeep }
