/**
 * Where `taskweave serve` gets its API token: `TASKWEAVE_TOKEN`, else a token file (made with a
 * new random token, readable by its owner only, when it does not exist). Never from the command
 * line, where any user of the machine could read it in the process list.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { InvalidOptionError } from '../core/errors.js'

/** The token and where it came from (for the start-up message; never the token itself). */
export interface ServeToken {
  readonly token: string
  readonly source: string
}

/** Reads an existing token file; refuses one other users can read, or one without a real token. */
export async function readTokenFile(file: string): Promise<string> {
  const token = (await readFile(file, 'utf8')).trim()
  const mode = (await stat(file)).mode & 0o077
  if (mode !== 0) throw new InvalidOptionError('--token-file', `a file only its owner can read: ${file} can be read by other users of this machine (chmod 600 ${file})`, file)
  if (token.length < 16 || /\s/.test(token)) throw new InvalidOptionError('--token-file', `a file holding one token of at least 16 characters without spaces (${file} holds ${token.length} characters)`, file)
  return token
}

/**
 * Reads the token from `env.TASKWEAVE_TOKEN`, else from `file`, which is made (mode 0600, a
 * 32-byte random token) when it does not exist. Several servers started at once for the same
 * file all end up with the one token written first: the new file is written aside and linked into
 * place, so no reader ever sees it half written.
 */
export async function serveToken(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ServeToken> {
  const fromEnv = env['TASKWEAVE_TOKEN']
  if (fromEnv !== undefined && fromEnv !== '') return { token: fromEnv.trim(), source: 'TASKWEAVE_TOKEN' }
  try {
    return { token: await readTokenFile(file), source: file }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const token = randomBytes(32).toString('base64url')
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.new`
  // Mode 0600 from the start (`wx`: a new file), not a chmod after.
  await writeFile(aside, `${token}\n`, { mode: 0o600, flag: 'wx' })
  try {
    await link(aside, file)
    return { token, source: `${file} (new)` }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Another server made it first: its token is the one.
    if (code === 'EEXIST') return { token: await readTokenFile(file), source: file }
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error
    // A file system without hard links (FAT, some network mounts): made in place, mode 0600, never over another.
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' })
    return { token, source: `${file} (new)` }
  } finally {
    await unlink(aside).catch(() => undefined)
  }
}

/**
 * The token a client of the API sends: `env.TASKWEAVE_TOKEN`, else the token file given, else
 * `defaultFile` when there is one and it exists (where `taskweave serve` run in the same
 * directory keeps it), else none (a server started with `--no-auth`). A file named but missing
 * is an error; a file other users can read is refused, as the server refuses it.
 */
export async function clientToken(file: string | undefined, defaultFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const fromEnv = env['TASKWEAVE_TOKEN']
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim()
  const chosen = file ?? defaultFile
  if (chosen === undefined) return undefined
  try {
    return await readTokenFile(chosen)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    if (file !== undefined) throw new InvalidOptionError('--token-file', `an existing file holding the server's token (${file} does not exist)`, file)
    return undefined
  }
}
