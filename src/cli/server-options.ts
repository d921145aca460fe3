/**
 * The options of the commands that can ask a server (`--server`, `--token-file`, `--timeout`), for
 * `parseArgs`. Apart from `serverTarget` (server-target.ts), which the commands load only
 * when they run, so that start-up of every command stays small.
 * @module
 */

/** The options every command that can ask a server takes (for `parseArgs`). */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
  timeout: { type: 'string' },
  // Parsed only to be refused with a reason, instead of "unknown option".
  token: { type: 'string' },
} as const

/** The names of `options` that were given, as flags (`--store`). */
export function givenFlags(values: Readonly<Record<string, unknown>>, names: readonly string[]): string[] {
  return names.filter((name) => values[name] !== undefined && values[name] !== false && !(Array.isArray(values[name]) && (values[name] as unknown[]).length === 0)).map((name) => `--${name}`)
}
