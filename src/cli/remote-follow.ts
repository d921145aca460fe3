/**
 * Following a run's events on a server, as `taskweave run --server` and `taskweave show --follow`
 * do. The stream is opened again, from the last event seen (`Last-Event-ID`), when it breaks: a
 * server restarting, a proxy closing an idle connection, a network blip. It gives up once the
 * server has not answered for `reconnectMs`, or when a stream stays silent past three of the
 * server's heartbeats (a connection that died without a reset).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { createParser } from 'eventsource-parser'
import { TaskweaveError } from '../core/errors.js'
import type { TaskweaveEvent } from '../observe/events.js'
import type { ApiRun } from '../server/views.js'
import type { ApiClient } from './api-client.js'

/** Longest SSE message read: the server streams at most 256 KiB per event. */
const MAX_MESSAGE_CHARS = 2 * 1024 * 1024
/** The server sends a heartbeat every 15 s: three missed ones mean the connection is dead. */
const SILENCE_MS = 45_000
/** Pause between attempts to open the stream again. */
const REOPEN_PAUSE_MS = 1_000

/** An event as the stream carries it: the engine's event plus the wall time it happened. */
export type StreamedEvent = TaskweaveEvent & { readonly wallAt: number }

/** How following ended. */
export type FollowEnd =
  /** The run finished (the stream said `end`). */
  | 'ended'
  /** `signal` was aborted: the caller detached. */
  | 'detached'
  /** The server has the run but does not run it (it finished and left memory, or nothing resumed it after a restart). */
  | 'not-live'

/** Options of {@link followRemoteEvents}. */
export interface RemoteFollowOptions {
  /** Called with each new event, in order. Replayed events (a resume going over what happened before) are not passed. */
  readonly onEvent: (event: StreamedEvent) => void
  /** Called when events were missed (the server no longer kept them): the caller reads the run again. */
  readonly onGap?: () => void
  /** Aborting it stops following (`detached`). */
  readonly signal: AbortSignal
  /** How long the server may go unanswering before following fails. */
  readonly reconnectMs: number
  /** Told when the stream broke and is being opened again. */
  readonly onReconnecting?: (why: string) => void
  /** Silence after which a stream is taken as dead. @default 45 s */
  readonly silenceMs?: number
}

/** Follows run `runId`'s events from the start of what the server kept; resolves how it ended. */
export async function followRemoteEvents(client: ApiClient, runId: string, options: RemoteFollowOptions): Promise<FollowEnd> {
  const { signal } = options
  let lastId: number | undefined
  let brokenSince: number | undefined
  /** Gaps answered one after the other, with nothing else between: a server that keeps answering one is broken. */
  let gapsInARow = 0
  while (!signal.aborted) {
    const stream = new AbortController()
    const stop = (): void => stream.abort()
    signal.addEventListener('abort', stop, { once: true })
    try {
      let response: Response
      try {
        response = await client.openEvents(runId, lastId, stream.signal)
      } catch (error) {
        if (signal.aborted) return 'detached'
        const status = TaskweaveError.is(error) ? (error.details as { status?: number } | undefined)?.status : undefined
        if (status === 404) throw forgotten(client, runId)
        // Known but not run there: finished or parked, or unfinished and not resumed (yet: a
        // server that restarts with --resume takes it up a moment after it listens).
        if (status === 409) {
          const known = await client.run(runId, signal).catch(() => undefined)
          // Unread (the server busy or going away): tried again like any other failure.
          if (known !== undefined && (known.status !== 'running' || known.tasks.some((task) => task.status === 'parked'))) return 'not-live'
        }
        if (status !== 409 && (!TaskweaveError.is(error) || !error.retryable)) throw error
        brokenSince ??= Date.now()
        if (Date.now() - brokenSince >= options.reconnectMs) {
          if (status === 409) return 'not-live'
          throw error
        }
        options.onReconnecting?.(error instanceof Error ? error.message : String(error))
        await pause(signal)
        continue
      }
      const read = await readStream(response, stream, options)
      if (read.ended) return 'ended'
      if (signal.aborted) return 'detached'
      if (read.gapAfter !== undefined) {
        lastId = read.gapAfter
        options.onGap?.()
        // The first gap is followed at once from where the server says; more in a row count as a broken stream.
        if (++gapsInARow === 1) continue
      } else {
        if (read.lastId !== undefined) lastId = read.lastId
        // A stream that gave something counts as the server back; one that closes at once does not.
        if (read.progressed) {
          brokenSince = undefined
          gapsInARow = 0
        }
      }
      // Closed without its end: the server went away or restarts. Open it again from the last
      // event, for as long as the server may go without serving the stream.
      const why = read.broken ?? (read.gapAfter !== undefined ? 'the server keeps answering that events were missed' : 'the stream closed before the run ended')
      brokenSince ??= Date.now()
      if (Date.now() - brokenSince >= options.reconnectMs) throw new TaskweaveError('TW_API', `the event stream of run ${runId} on ${client.url} kept breaking for ${options.reconnectMs} ms (--timeout): ${why}`, { retryable: true })
      options.onReconnecting?.(why)
      await pause(signal)
    } finally {
      signal.removeEventListener('abort', stop)
    }
  }
  return 'detached'
}

/** What one stream gave. */
interface StreamRead {
  readonly ended: boolean
  /** Whether it gave an event or a heartbeat (a gap is not one). */
  readonly progressed: boolean
  readonly lastId?: number
  /** The server no longer keeps events after the one asked for: go on after this id. */
  readonly gapAfter?: number
  /** Why the stream broke, when it did. */
  readonly broken?: string
}

async function readStream(response: Response, stream: AbortController, options: RemoteFollowOptions): Promise<StreamRead> {
  let ended = false
  let lastId: number | undefined
  let gapAfter: number | undefined
  let bad: string | undefined
  let progressed = false
  const parser = createParser({
    maxBufferSize: MAX_MESSAGE_CHARS,
    onComment: () => {
      progressed = true
    },
    onEvent: (message) => {
      if (ended || gapAfter !== undefined) return
      if (message.event === 'end') {
        ended = true
        return
      }
      if (message.event === 'gap') {
        let resumeAfter: unknown
        try {
          resumeAfter = (JSON.parse(message.data) as { resumeAfter?: unknown } | null)?.resumeAfter
        } catch {
          resumeAfter = undefined
        }
        if (typeof resumeAfter !== 'number' || !Number.isSafeInteger(resumeAfter) || resumeAfter < 0) bad = 'a gap without the event id to go on from'
        else gapAfter = resumeAfter
        return
      }
      progressed = true
      if (message.id !== undefined && message.id !== '') {
        const id = Number(message.id)
        if (!Number.isSafeInteger(id) || id < 0) {
          bad = `an event id that is not a number ("${message.id.slice(0, 40)}")`
          return
        }
        lastId = id
      }
      let event: StreamedEvent
      try {
        event = JSON.parse(message.data) as StreamedEvent
      } catch {
        bad = `an event that is not JSON (id ${message.id ?? '?'})`
        return
      }
      if ((event as { replayed?: unknown }).replayed === true) return
      options.onEvent(event)
    },
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') bad = `a message over ${MAX_MESSAGE_CHARS} characters`
    },
  })
  const silenceMs = options.silenceMs ?? SILENCE_MS
  let silent = setTimeout(() => stream.abort(), silenceMs)
  let broken: string | undefined
  try {
    if (response.body === null) return { ended: false, progressed: false, broken: 'the server sent no stream' }
    const decoder = new TextDecoder()
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      clearTimeout(silent)
      silent = setTimeout(() => stream.abort(), silenceMs)
      parser.feed(decoder.decode(chunk, { stream: true }))
      if (bad !== undefined) throw new TaskweaveError('TW_API', `the server's event stream sent ${bad}: is --server the address of taskweave serve?`, { retryable: false })
      if (ended || gapAfter !== undefined) break
    }
  } catch (error) {
    if (TaskweaveError.is(error)) throw error
    broken = options.signal.aborted ? undefined : stream.signal.aborted ? `no event or heartbeat for ${Math.round(silenceMs / 1000)} s` : `the stream broke (${describe(error)})`
  } finally {
    clearTimeout(silent)
    // A stream left after its end (or a gap) is closed here, not by the server.
    stream.abort()
  }
  return { ended, progressed, ...(lastId !== undefined ? { lastId } : {}), ...(gapAfter !== undefined ? { gapAfter } : {}), ...(broken !== undefined ? { broken } : {}) }
}

/**
 * Reads run `runId`, trying again while the server cannot answer (down, restarting, busy: a
 * retryable error) for up to `windowMs`.
 */
export async function readRunPatiently(client: ApiClient, runId: string, signal: AbortSignal | undefined, windowMs: number, seen = false): Promise<ApiRun> {
  const since = Date.now()
  for (;;) {
    try {
      return await client.run(runId, signal)
    } catch (error) {
      // Unknown now though it was known: the server lost it (not the user's mistake).
      if (seen && TaskweaveError.is(error) && (error.details as { status?: unknown; notApi?: unknown } | undefined)?.status === 404 && (error.details as { notApi?: unknown }).notApi !== true) throw forgotten(client, runId)
      if (signal?.aborted === true || !TaskweaveError.is(error) || !error.retryable || Date.now() - since >= windowMs) throw error
    }
    await sleep(REOPEN_PAUSE_MS, undefined, signal !== undefined ? { signal } : {}).catch(() => undefined)
  }
}

/** The error for a run the server knew and no longer knows (exit 6). */
function forgotten(client: ApiClient, runId: string): TaskweaveError {
  return new TaskweaveError('TW_API', `${client.url} no longer knows run ${runId}: it restarted without a store (its runs were in memory), or forgot the run`, { retryable: false, details: { status: 404, serverFault: true } })
}

async function pause(signal: AbortSignal): Promise<void> {
  await sleep(REOPEN_PAUSE_MS, undefined, { signal }).catch(() => undefined)
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause
  if (typeof cause?.code === 'string') return cause.code
  return error instanceof Error ? error.message : String(error)
}
