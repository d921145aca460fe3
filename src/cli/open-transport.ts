/**
 * Opens the transport a {@link TransportSpec} names. The broker's client package (bullmq or
 * amqplib) loads here, only in a command that uses a broker.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'
import type { Transport } from '../core/transport.js'
import { loadCliConfig } from './config.js'
import { transportSpecOf } from './transport-spec.js'
import type { TransportSpec } from './transport-spec.js'

/** Connects to the broker `spec` names. */
export async function openTransport(spec: TransportSpec, options: { readonly leaseMs?: number; readonly claimAfterMs?: number; readonly maxDeliveries?: number } = {}): Promise<Transport> {
  const { createTransport } = await import('../queues/index.js')
  return createTransport({ type: spec.type, url: spec.url, ...(spec.prefix !== undefined ? { prefix: spec.prefix } : {}), ...options })
}

/**
 * The broker a command that cannot work without one uses: `--transport` / `--prefix`, else the
 * configuration file's `transport` / `prefix`, else the environment. None: `TW_INVALID_OPTION`
 * saying that `who` needs a broker and how to name one.
 */
export async function requiredBroker(
  args: { readonly transport?: string | undefined; readonly prefix?: string | undefined; readonly config?: string | undefined },
  env: NodeJS.ProcessEnv,
  who: string,
): Promise<TransportSpec> {
  const config = await loadCliConfig(args.config, env)
  const spec = transportSpecOf(args.transport ?? config.transport, env, args.prefix ?? config.prefix)
  if (spec !== undefined) return spec
  throw new TaskweaveError('TW_INVALID_OPTION', `${who} needs a broker: --transport redis://host:6379 or amqp://host:5672 (or TASKWEAVE_TRANSPORT, or MESSAGE_QUEUE_TYPE with REDIS_URL / RABBITMQ_URL)`, { retryable: false })
}
