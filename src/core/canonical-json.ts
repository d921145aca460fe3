/**
 * Canonical JSON: object keys sorted, no whitespace, JSON's own number and string forms. Two
 * definitions that differ only in key order (a YAML file and the same workflow built in code, say)
 * have one canonical text, hence one hash. Iterative, so depth cannot overflow the stack.
 * @module
 */

/** The canonical JSON text of plain data `value` (what `JSON.parse` gives back). */
export function canonicalJson(value: unknown): string {
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
