/**
 * Which transport a command uses: `--transport redis://… | amqp://…`, else `TASKWEAVE_TRANSPORT`,
 * else the names seed 002 uses (`MESSAGE_QUEUE_TYPE=redis|rabbitmq` with `REDIS_URL` or
 * `RABBITMQ_URL`). Parsing only: opening loads the broker's client package, so it happens in
 * the command that needs it.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'

/** A transport to open. */
export interface TransportSpec {
  readonly type: 'redis' | 'rabbitmq'
  readonly url: string
  /** Where it came from, for messages: `--transport`, `TASKWEAVE_TRANSPORT`, `MESSAGE_QUEUE_TYPE`. */
  readonly from: string
  /** Names on the broker start with it (`--prefix`, else `TASKWEAVE_QUEUE_PREFIX`, else `taskweave`). */
  readonly prefix?: string
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')
  }
}

function invalid(from: string, message: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', `${from}: ${message}`, { retryable: false, details: { option: from } })
}

/** The transport of a URL given as `from`. */
export function parseTransportUrl(url: string, from: string): TransportSpec {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase()
  if (scheme === 'redis' || scheme === 'rediss') return { type: 'redis', url, from }
  if (scheme === 'amqp' || scheme === 'amqps') return { type: 'rabbitmq', url, from }
  if (url === 'memory') throw invalid(from, 'the memory transport works only inside one process; give a broker: redis://host:6379 or amqp://host:5672')
  throw invalid(from, `"${redactUrl(url)}" is not a transport URL; expected redis://host:6379 or amqp://user:pass@host:5672`)
}

/**
 * The transport a command should use, or undefined for none (a run then executes in this process).
 * `required` makes "none" an error (the worker needs a broker).
 */
export function transportSpecOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, prefixFlag?: string): TransportSpec | undefined {
  const spec = transportOf(flag, env)
  const prefix = prefixFlag ?? (env['TASKWEAVE_QUEUE_PREFIX'] || undefined)
  if (spec === undefined || prefix === undefined) return spec
  if (!/^[A-Za-z0-9._-]{1,60}$/.test(prefix)) throw invalid(prefixFlag !== undefined ? '--prefix' : 'TASKWEAVE_QUEUE_PREFIX', `"${prefix}" is not a usable prefix; use letters, digits, ".", "-" and "_" (at most 60)`)
  return { ...spec, prefix }
}

function transportOf(flag: string | undefined, env: NodeJS.ProcessEnv): TransportSpec | undefined {
  if (flag !== undefined) return parseTransportUrl(flag, '--transport')
  const own = env['TASKWEAVE_TRANSPORT']
  if (own !== undefined && own !== '') return parseTransportUrl(own, 'TASKWEAVE_TRANSPORT')
  const type = env['MESSAGE_QUEUE_TYPE']
  if (type === undefined || type === '' || type === 'memory') return undefined
  if (type === 'redis') return { type: 'redis', url: env['REDIS_URL'] || 'redis://127.0.0.1:6379', from: 'MESSAGE_QUEUE_TYPE=redis' }
  if (type === 'rabbitmq') return { type: 'rabbitmq', url: env['RABBITMQ_URL'] || 'amqp://127.0.0.1:5672', from: 'MESSAGE_QUEUE_TYPE=rabbitmq' }
  throw invalid('MESSAGE_QUEUE_TYPE', `"${type}" is not a queue type; expected memory, redis or rabbitmq`)
}
