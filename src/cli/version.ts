/**
 * `taskweave --version`: the version of the installed package, read from its own package.json
 * (two folders up from this module, in `dist/cli/` as in `src/cli/`), so it can never disagree
 * with what npm installed.
 * @module
 */
import { readFileSync } from 'node:fs'

/** The package's version, e.g. `0.1.0`. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof manifest.version === 'string' ? manifest.version : 'unknown'
}
