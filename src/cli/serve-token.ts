/**
 * Where `taskweave serve` gets its API token: `TASKWEAVE_TOKEN`, else a token file (made with a
 * new random token, readable by its owner only, when it does not exist). Never from the command
 * line, where any user of the machine could read it in the process list.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidOptionError } from '../core/errors.js'

/** The token and where it came from (for the start-up message; never the token itself). */
export interface ServeToken {
  readonly token: string
  readonly source: string
  /** Set when the token file can be read by other users of the machine. */
  readonly warning?: string
}

/**
 * Reads the token from `env.TASKWEAVE_TOKEN`, else from `file`, which is created (mode 0600, a
 * 32-byte random token) when it does not exist.
 */
export async function serveToken(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ServeToken> {
  const fromEnv = env['TASKWEAVE_TOKEN']
  if (fromEnv !== undefined && fromEnv !== '') return { token: fromEnv.trim(), source: 'TASKWEAVE_TOKEN' }
  try {
    const token = (await readFile(file, 'utf8')).trim()
    if (token.length < 16) throw new InvalidOptionError('--token-file', `a file holding a token of at least 16 characters (${file} holds ${token.length})`, file)
    const mode = (await stat(file)).mode & 0o077
    return { token, source: file, ...(mode !== 0 ? { warning: `${file} can be read by other users of this machine (chmod 600 ${file})` } : {}) }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dirname(file), { recursive: true })
  const token = randomBytes(32).toString('base64url')
  // `wx`: never overwrite a file another process made meanwhile; mode 0600 from the start, not chmod after.
  const handle = await open(file, 'wx', 0o600)
  try {
    await handle.writeFile(`${token}\n`)
  } finally {
    await handle.close()
  }
  return { token, source: `${file} (new)` }
}
