/**
 * Request bodies: JSON only, refused when nested deeper than the limit (before it is parsed, so a
 * body 100,000 levels deep costs one pass over its text), and with `__proto__` or `constructor`
 * keys refused rather than parsed (prototype poisoning).
 * @module
 */

/**
 * How deep a JSON text nests (arrays and objects), stopping as soon as `limit` is passed; strings
 * are skipped, escapes included.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
      continue
    }
    if (c === 34) inString = true
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true
    } else if (c === 125 || c === 93) depth--
  }
  return false
}
