/**
 * Opens the transport a {@link TransportSpec} names. The broker's client package (bullmq or
 * amqplib) loads here, only in a command that uses a broker.
 * @module
 */
import type { Transport } from '../core/transport.js'
import type { TransportSpec } from './transport-spec.js'

/** Connects to the broker `spec` names. */
export async function openTransport(spec: TransportSpec, options: { readonly leaseMs?: number; readonly maxDeliveries?: number } = {}): Promise<Transport> {
  const { createTransport } = await import('../queues/index.js')
  return createTransport({ type: spec.type, url: spec.url, ...(spec.prefix !== undefined ? { prefix: spec.prefix } : {}), ...options })
}
