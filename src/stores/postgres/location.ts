/** The URL of a PostgreSQL store as messages show it: without its password. @module */

/**
 * `connectionString` without its password (in the user part or as a `password` parameter), for
 * `RunStore.location` and every error message. Messages end up in logs and reports, where a
 * password must never land.
 */
export function locationOf(connectionString: string): string {
  let url: URL
  try {
    url = new URL(connectionString)
  } catch {
    // Not a URL we can take apart: keep only what follows the last '@' (the host part), which
    // cannot hold the password.
    const at = connectionString.lastIndexOf('@')
    return at < 0 ? connectionString.replace(/password=[^&]*/gi, 'password=***') : `postgres://…${connectionString.slice(at)}`
  }
  url.password = ''
  if (url.searchParams.has('password')) url.searchParams.delete('password')
  return url.toString()
}
