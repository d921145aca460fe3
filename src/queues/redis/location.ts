/** The URL of a Redis server as messages show it: without its password. @module */

/**
 * `url` without the password of its user part, for every message and error detail: messages end
 * up in logs and reports, where a password must never land. A URL that cannot be parsed keeps only
 * what follows its last `@` (the host part, which cannot hold the password).
 */
export function locationOf(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    const at = url.lastIndexOf('@')
    return at < 0 ? url : `redis://…${url.slice(at)}`
  }
  if (parsed.password !== '') parsed.password = '***'
  return parsed.toString()
}
