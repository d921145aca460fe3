/**
 * Names on BullMQ for the transport. BullMQ refuses `:` in queue names and in custom job ids
 * (it separates key parts) and an integer as a custom job id (it would clash with its own
 * numbering), while attempt ids, queue names and worker ids may hold anything. So `%` and `:` are
 * escaped (`%25`, `%3A`) and an id that would read as an integer gets a `%.` in front; both are
 * one-to-one, so distinct ids stay distinct.
 * @module
 */

/** `text` with `%` and `:` escaped. */
function escape(text: string): string {
  return text.replace(/%/g, '%25').replace(/:/g, '%3A')
}

/** `escape` undone. */
function unescape(text: string): string {
  return text.replace(/%3A/g, ':').replace(/%25/g, '%')
}

/** The BullMQ job id of an attempt: the attempt id, escaped. */
export function jobIdOf(attemptId: string): string {
  const escaped = escape(attemptId)
  return escaped === '' || `${Number.parseInt(escaped, 10)}` === escaped ? `%.${escaped}` : escaped
}

/** The BullMQ queue that holds attempts of work queue `queue`. */
export function workQueueName(queue: string): string {
  return `work.${escape(queue)}`
}

/** The BullMQ queue that holds attempts routed to worker `worker`. */
export function routeQueueName(worker: string): string {
  return `route.${escape(worker)}`
}

/** What a BullMQ queue name of the transport stands for. */
export type QueueRole = { readonly kind: 'work'; readonly queue: string } | { readonly kind: 'route'; readonly worker: string }

/** The role of a BullMQ queue name made by {@link workQueueName} or {@link routeQueueName}; undefined for any other name. */
export function roleOf(bullName: string): QueueRole | undefined {
  if (bullName.startsWith('work.')) return { kind: 'work', queue: unescape(bullName.slice(5)) }
  if (bullName.startsWith('route.')) return { kind: 'route', worker: unescape(bullName.slice(6)) }
  return undefined
}
