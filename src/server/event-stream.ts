/**
 * A run's events as Server-Sent Events: what the run kept after the client's `Last-Event-ID`, then
 * each new event, then an `end` event when the run finishes. Writes are coalesced (one write per
 * turn of the event loop, not one per event); a heartbeat comment keeps proxies from closing an
 * idle stream; a client that stops reading is dropped once it falls 4 MiB behind.
 * @module
 */
import type { ServerResponse } from 'node:http'
import type { Unsubscribe } from '../observe/emitter.js'
import type { LiveEvent, LiveRuns } from './live-runs.js'

/** Bytes a stream may have unsent before its client is dropped as too slow. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024
const HEARTBEAT_MS = 15_000

/** One event as an SSE frame; an event that cannot be written as JSON is sent without its payload. */
function frame(entry: LiveEvent): string {
  let data: string
  try {
    data = JSON.stringify({ ...entry.event, wallAt: entry.wallAt })
  } catch {
    data = JSON.stringify({ type: entry.event.type, runId: entry.event.runId, wallAt: entry.wallAt, unserializable: true })
  }
  return `id: ${entry.id}\nevent: ${entry.event.type}\ndata: ${data}\n\n`
}

/**
 * Streams `runId`'s events on `raw` (already answered with the SSE headers by the caller). Calls
 * `closed` once when the stream ends, whichever side ends it.
 */
export function streamRunEvents(raw: ServerResponse, live: LiveRuns, runId: string, afterId: number, closed: () => void): void {
  let buffer = ''
  let scheduled = false
  let done = false
  let stop: Unsubscribe = () => undefined
  const flush = (): void => {
    scheduled = false
    if (done || buffer === '') return
    raw.write(buffer)
    buffer = ''
    if (raw.writableLength > MAX_BACKLOG_BYTES) finish(false)
  }
  const send = (text: string): void => {
    if (done) return
    buffer += text
    if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  const heartbeat = setInterval(() => send(': ping\n\n'), HEARTBEAT_MS)
  heartbeat.unref()
  const finish = (ended: boolean): void => {
    if (done) return
    if (ended) {
      buffer += 'event: end\ndata: {}\n\n'
      flush()
    }
    done = true
    clearInterval(heartbeat)
    stop()
    raw.end()
    closed()
  }
  raw.on('close', () => finish(false))
  raw.write('retry: 2000\n\n')
  const followed = live.follow(runId, afterId, { event: (entry) => send(frame(entry)), end: () => setImmediate(() => finish(true)) })
  if (followed === 'gap' || followed === undefined) {
    // Events after the client's last one are gone: it reads the run again and follows from there.
    buffer += `event: gap\ndata: ${JSON.stringify({ message: 'events after your Last-Event-ID are no longer kept: read the run again and follow from its lastEventId' })}\n\n`
    flush()
    finish(false)
    return
  }
  stop = followed
}
