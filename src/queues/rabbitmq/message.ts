/**
 * What a message carries on the broker besides its JSON body. The AMQP properties hold the id
 * (`messageId`) and the priority; headers hold the rest:
 *
 * - `x-tw-deliveries`: deliveries the message had before this copy was published (absent: 0). A copy is published again, with the count raised, on every retry and after a
 *   consumer was lost, so the count survives any number of crashes (see `consumer.ts`).
 * - `x-tw-enqueued-at`: when it was first enqueued (epoch ms); attempts of the transport do
 *   without it (their envelope says when they were published).
 * - `x-tw-reason`, `x-tw-dead-at`: on dead letters, why and when.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Message, Options } from 'amqplib'
import { priorityLevel } from '../../core/queue.js'

/** Deliveries before this copy. */
export const DELIVERIES_HEADER = 'x-tw-deliveries'
/** When first enqueued (epoch ms). */
export const ENQUEUED_AT_HEADER = 'x-tw-enqueued-at'
/** Why it was dead-lettered. */
export const REASON_HEADER = 'x-tw-reason'
/** When it was dead-lettered (epoch ms). */
export const DEAD_AT_HEADER = 'x-tw-dead-at'

/** The headers and properties of a message, read once. */
export interface MessageMeta {
  readonly id: string
  readonly priority: number
  /** Deliveries before this copy (`x-tw-deliveries`). */
  readonly deliveriesBefore: number
  readonly enqueuedAt: number
}

function numberHeader(headers: Record<string, unknown> | undefined, name: string): number | undefined {
  const value = headers?.[name]
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined
}

/** The meta data of a received message; a message from another publisher gets defaults (a fresh id, never delivered). */
export function metaOf(message: Message): MessageMeta {
  const headers = message.properties.headers as Record<string, unknown> | undefined
  const id: unknown = message.properties.messageId
  const priority: unknown = message.properties.priority
  return {
    id: typeof id === 'string' && id !== '' ? id : randomUUID(),
    priority: priorityLevel(typeof priority === 'number' ? priority : 0),
    deliveriesBefore: Math.max(0, Math.floor(numberHeader(headers, DELIVERIES_HEADER) ?? 0)),
    enqueuedAt: numberHeader(headers, ENQUEUED_AT_HEADER) ?? Date.now(),
  }
}

/**
 * The publish options of a new message. Headers are left out where they would say nothing (no
 * deliveries yet, no enqueue time to keep): a message without a headers table is cheaper for
 * both the client and the broker, which matters on the transport's hot path.
 */
export function publishOptions(id: string, priority: number, enqueuedAt: number | undefined, deliveriesBefore = 0, extra: Readonly<Record<string, unknown>> = {}): Options.Publish {
  const headers: Record<string, unknown> = { ...extra }
  if (deliveriesBefore > 0) headers[DELIVERIES_HEADER] = deliveriesBefore
  if (enqueuedAt !== undefined) headers[ENQUEUED_AT_HEADER] = enqueuedAt
  const options: Options.Publish = { persistent: true, messageId: id, priority, contentType: 'application/json' }
  if (Object.keys(headers).length > 0) options.headers = headers
  return options
}

/**
 * The publish options of a copy of `message` (a retry, a redelivery, a dead letter): its id,
 * priority and headers, with `deliveriesBefore` and `extra` set. The broker's own `x-death`
 * history is left behind: it grows with every pass through a delay queue.
 */
export function copyOptions(message: Message, meta: MessageMeta, deliveriesBefore: number, extra: Readonly<Record<string, unknown>> = {}): Options.Publish {
  const headers: Record<string, unknown> = { ...(message.properties.headers as Record<string, unknown> | undefined) }
  for (const key of Object.keys(headers)) if (key === 'x-death' || key.startsWith('x-first-death') || key.startsWith('x-last-death')) delete headers[key]
  return {
    persistent: true,
    messageId: meta.id,
    priority: meta.priority,
    contentType: 'application/json',
    headers: { ...headers, [DELIVERIES_HEADER]: deliveriesBefore, [ENQUEUED_AT_HEADER]: meta.enqueuedAt, ...extra },
  }
}
