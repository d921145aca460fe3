/** The URL of a RabbitMQ broker as messages show it: without its password. @module */

/**
 * `url` without its password, for every error message: messages end up in logs and reports,
 * where a password must never land. A URL that cannot be parsed keeps only what follows its last
 * `@` (the host part, which cannot hold the password).
 */
export function locationOf(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.password = ''
    return parsed.toString()
  } catch {
    const at = url.lastIndexOf('@')
    return at < 0 ? url : `amqp://…${url.slice(at)}`
  }
}
