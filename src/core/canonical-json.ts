/**
 * Canonical JSON: object keys sorted, no whitespace, JSON's own number and string forms. Two
 * definitions that differ only in key order (a YAML file and the same workflow built in code, say)
 * have one canonical text, hence one hash.
 *
 * Written recursively with string concatenation (a durable run canonicalises its whole
 * definition when it starts, so this is on the path of every such run); data nested deeper than
 * {@link MAX_RECURSION} falls back to an iterative writer, so depth cannot overflow the stack.
 * @module
 */

const MAX_RECURSION = 400
const TOO_DEEP = Symbol('too deep')

/** The canonical JSON text of plain data `value` (what `JSON.parse` gives back). */
export function canonicalJson(value: unknown): string {
  try {
    return write(value, 0)
  } catch (err) {
    if (err === TOO_DEEP) return writeIteratively(value)
    throw err
  }
}

/** The canonical text of a string (a key or a value): JSON's own escaping. */
export function jsonString(text: string): string {
  return JSON.stringify(text)
}

function write(v: unknown, depth: number): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'null'
  if (depth > MAX_RECURSION) throw TOO_DEEP
  if (Array.isArray(v)) {
    let out = '['
    for (let k = 0; k < v.length; k++) {
      if (k > 0) out += ','
      const item: unknown = v[k]
      out += item === undefined ? 'null' : write(item, depth + 1)
    }
    return `${out}]`
  }
  const record = v as Record<string, unknown>
  const keys = Object.keys(record).sort()
  let out = '{'
  let first = true
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string
    const item = record[key]
    if (item === undefined) continue
    if (!first) out += ','
    first = false
    out += `${JSON.stringify(key)}:${write(item, depth + 1)}`
  }
  return `${out}}`
}

/** The same text without recursion, for very deep data. */
function writeIteratively(value: unknown): string {
  const out: string[] = []
  // Work items: a value to write, or a literal piece of text (a separator or a closing bracket).
  const stack: Array<{ readonly text: string } | { readonly value: unknown }> = [{ value }]
  while (stack.length > 0) {
    const item = stack.pop() as { readonly text: string } | { readonly value: unknown }
    if ('text' in item) {
      out.push(item.text)
      continue
    }
    const v = item.value
    if (Array.isArray(v)) {
      out.push('[')
      stack.push({ text: ']' })
      for (let k = v.length - 1; k >= 0; k--) {
        stack.push({ value: v[k] === undefined ? null : v[k] })
        if (k > 0) stack.push({ text: ',' })
      }
    } else if (typeof v === 'object' && v !== null) {
      const keys = Object.keys(v)
        .filter((key) => (v as Record<string, unknown>)[key] !== undefined)
        .sort()
      out.push('{')
      stack.push({ text: '}' })
      for (let k = keys.length - 1; k >= 0; k--) {
        const key = keys[k] as string
        stack.push({ value: (v as Record<string, unknown>)[key] })
        stack.push({ text: `${JSON.stringify(key)}:` })
        if (k > 0) stack.push({ text: ',' })
      }
    } else {
      out.push(JSON.stringify(v) ?? 'null')
    }
  }
  return out.join('')
}
