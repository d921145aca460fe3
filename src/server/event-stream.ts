/**
 * A run's events as Server-Sent Events: what the run kept after the client's `Last-Event-ID`, then
 * each new event, then an `end` event when the run finishes. A stream closed without its `end`
 * (the run was suspended, the server is closing) means the run goes on elsewhere or later: a
 * client opens it again. Writes are coalesced (one write per
 * turn of the event loop, not one per event); a heartbeat comment keeps proxies from closing an
 * idle stream; a client that stops reading is dropped once it falls 4 MiB behind.
 * @module
 */
import type { ServerResponse } from 'node:http'
import type { Unsubscribe } from '../observe/emitter.js'
import { eventFrame } from './live-runs.js'
import type { LiveRuns } from './live-runs.js'

/** Bytes a stream may have unsent before its client is dropped as too slow. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024
const HEARTBEAT_MS = 15_000
/** How long a finished stream's client may take to read what is still queued for it. */
const ENDED_FLUSH_MS = 30_000

/**
 * Streams `runId`'s events on `raw` (already answered with the SSE headers by the caller). Calls
 * `closed` once when the stream ends, whichever side ends it.
 */
export function streamRunEvents(raw: ServerResponse, live: LiveRuns, runId: string, afterId: number | undefined, closed: () => void): void {
  let buffer = ''
  let scheduled = false
  let done = false
  let stop: Unsubscribe = () => undefined
  const flush = (): void => {
    scheduled = false
    if (done || buffer === '') return
    // A client that stopped reading is cut off, its socket destroyed: ending the response would
    // wait for it to read what is queued, keeping the backlog (and its connection) alive.
    if (raw.writableLength + buffer.length > MAX_BACKLOG_BYTES) {
      buffer = ''
      finish(false, true)
      return
    }
    raw.write(buffer)
    buffer = ''
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
  const finish = (ended: boolean, cutOff = false): void => {
    if (done) return
    if (ended) buffer += 'event: end\ndata: {}\n\n'
    // What is queued goes out first (the end, or the events before a close without one).
    if (!cutOff && buffer !== '' && !raw.destroyed) {
      flush()
      // The last flush may have found the client too slow and cut it off: done already.
      if (done) return
    }
    done = true
    clearInterval(heartbeat)
    stop()
    if (cutOff) raw.destroy()
    else {
      raw.end()
      // A stream closed without its end (the server is closing, the run was suspended) hangs up
      // once the response is out: kept alive, the connection would hold a closing server until
      // the client's own keep-alive timeout (4 s for Node's fetch).
      if (!ended) {
        // Taken now: a finished response lets go of its socket.
        const socket = raw.socket
        raw.once('finish', () => socket?.end())
      }
      // A client that stops reading after the end would keep what is queued, and its socket, for
      // ever: it gets ENDED_FLUSH_MS to take it.
      if (raw.writableLength > 0) {
        const timer = setTimeout(() => raw.destroy(), ENDED_FLUSH_MS)
        timer.unref()
        raw.once('finish', () => clearTimeout(timer))
        raw.once('close', () => clearTimeout(timer))
      }
    }
    closed()
  }
  raw.on('close', () => finish(false))
  raw.write('retry: 2000\n\n')
  const followed = live.follow(runId, afterId, { event: (entry) => send(eventFrame(entry)), end: () => setImmediate(() => finish(true)), close: () => setImmediate(() => finish(false)) })
  if (followed === undefined || 'gap' in followed) {
    // Events after the client's last one are gone: it reads the run again and follows from its
    // lastEventId. The gap's id lets a plain EventSource go on from the oldest event kept instead.
    const resumeAfter = followed?.resumeAfter ?? 0
    buffer += `id: ${resumeAfter}\nevent: gap\ndata: ${JSON.stringify({ message: 'events after your Last-Event-ID are no longer kept: read the run again and follow from its lastEventId', resumeAfter })}\n\n`
    flush()
    finish(false)
    return
  }
  stop = followed.stop
}
