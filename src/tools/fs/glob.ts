/**
 * The tiny glob dialect of `fs.listDirectory`'s `include`: `*` matches any run of characters,
 * `?` exactly one, everything else itself. Patterns match an entry's name, never its path.
 * A linear-time matcher rather than a generated RegExp, so no pattern can backtrack exponentially.
 * @module
 */

/** Whether `name` matches `pattern` (`*` any run, `?` one character; case-sensitive). */
export function matchGlob(pattern: string, name: string): boolean {
  const p = [...pattern]
  const n = [...name]
  let pi = 0
  let ni = 0
  // Position of the last `*` seen and of the name when it was seen: on a mismatch, let that star
  // swallow one more character and retry. Each star is revisited at most once per name character.
  let star = -1
  let starNi = 0
  while (ni < n.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === n[ni]) && p[pi] !== '*') {
      pi++
      ni++
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++
      starNi = ni
    } else if (star !== -1) {
      pi = star + 1
      ni = ++starNi
    } else {
      return false
    }
  }
  while (pi < p.length && p[pi] === '*') pi++
  return pi === p.length
}

/** Whether `name` matches any of `patterns`; with no patterns, everything matches. */
export function matchesAny(patterns: readonly string[] | undefined, name: string): boolean {
  return patterns === undefined || patterns.length === 0 || patterns.some((pattern) => matchGlob(pattern, name))
}
