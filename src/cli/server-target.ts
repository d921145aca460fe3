/**
 * `--server URL` (else `TASKWEAVE_SERVER`) on `run`, `runs`, `show`, `cancel` and `retry`: the command asks
 * that `taskweave serve` instead of running or reading here. The token comes from
 * `TASKWEAVE_TOKEN` or a file (`--token-file`, else, for a server on this machine, the local
 * server's `.taskweave/token` when it exists), never from the command line, where every user of
 * the machine can read it (`ps`).
 * @module
 */
import { resolve } from 'node:path'
import { toMs } from '../core/duration.js'
import { TaskweaveError } from '../core/errors.js'
import { parseServerUrl } from './api-client.js'
import { clientToken } from './serve-token.js'

/** Default deadline of a request to the server, and how long a broken stream is tried again. */
export const DEFAULT_SERVER_TIMEOUT_MS = 10_000
/** The longest timer Node keeps (about 24.8 days); a longer one fires at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1

/** What `parseArgs` gave for {@link SERVER_OPTIONS}, beside the command's other options. */
export interface ServerOptionValues {
  readonly server?: string | undefined
  readonly 'token-file'?: string | undefined
  readonly timeout?: string | undefined
  readonly token?: string | undefined
}

/** A server to ask, resolved. */
export interface ServerTarget {
  readonly server: string
  readonly token: string | undefined
  readonly timeoutMs: number
}

/**
 * The server the command asks, or undefined to work here. `given` lists the command's other
 * options that were given: those that only mean something here (`--store`, `--tools`…) are refused
 * with a server, and those that only mean something with one (`--detach`…) without.
 */
export async function serverTarget(values: ServerOptionValues, given: { readonly localOnly: readonly string[]; readonly serverOnly: readonly string[] }, warn: (text: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<ServerTarget | undefined> {
  if (values.token !== undefined) throw usage('--token is refused: a command line can be read by every user of the machine (ps). Set TASKWEAVE_TOKEN, or put the token in a file readable only by you and pass --token-file FILE')
  const fromEnv = env['TASKWEAVE_SERVER']
  const server = values.server ?? (fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : undefined)
  if (server === undefined) {
    const remoteOnly = [...(values['token-file'] !== undefined ? ['--token-file'] : []), ...(values.timeout !== undefined ? ['--timeout'] : []), ...given.serverOnly]
    if (remoteOnly.length > 0) throw usage(`${remoteOnly.join(', ')} ${remoteOnly.length === 1 ? 'needs' : 'need'} --server URL (or TASKWEAVE_SERVER)`)
    return undefined
  }
  if (given.localOnly.length > 0) {
    const source = values.server !== undefined ? '--server' : 'TASKWEAVE_SERVER'
    throw usage(`${given.localOnly.join(', ')} ${given.localOnly.length === 1 ? 'means' : 'mean'} nothing with ${source}: the server uses its own tools, store and settings${values.server === undefined ? ' (unset TASKWEAVE_SERVER to work here)' : ''}`)
  }
  const timeoutMs = values.timeout !== undefined ? toMs('--timeout', values.timeout) : DEFAULT_SERVER_TIMEOUT_MS
  if (!(timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) throw usage(`--timeout must be from 1 ms to 24 days; received "${values.timeout}"`)
  const url = parseServerUrl(server)
  const loopback = isLoopback(url.hostname)
  // The default file is the local server's token: it is not sent to another machine unasked.
  const token = await clientToken(values['token-file'] !== undefined ? resolve(values['token-file']) : undefined, loopback ? resolve('.taskweave/token') : undefined, env)
  if (token !== undefined && !loopback && url.protocol === 'http:') warn(`warning: the token goes to ${url.host} over plain http://, readable by anyone on the way: put taskweave serve behind https:// (a reverse proxy) and use that address`)
  return { server, token, timeoutMs }
}

/** Whether a URL's host name is this machine's loopback (`localhost`, 127.0.0.0/8, `[::1]`). */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  // Not `*.localhost`: Node resolves those through DNS like any other name.
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

function usage(message: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', message, { retryable: false })
}
