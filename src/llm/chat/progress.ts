/**
 * Progress of a streamed answer, throttled: a long answer arrives as thousands of chunks, and one
 * `task:progress` event per chunk would flood every listener. Text is gathered and sent at most
 * once per `intervalMs` (the first chunk at once, so the time to the first token shows), and
 * {@link StreamProgress.finish} sends what is left in a final event. Each event's `data.delta` is
 * the text since the previous event, so the deltas of all events make up the whole answer.
 * @module
 */
import type { ToolProgress } from '../../core/tool.js'

/** The data of a streaming progress event. */
export interface ChatProgressData {
  /** The answer's text since the previous event (absent when there is none). */
  readonly delta?: string
  /** Chunks of text received so far (providers send about one token per chunk). */
  readonly tokens: number
  /** True on the last event of the answer. */
  readonly done?: boolean
}

/** Gathers a streamed answer's chunks into throttled progress events. */
export interface StreamProgress {
  /** One chunk of text arrived. */
  push(delta: string): void
  /** The answer is complete: sends the rest. */
  finish(): void
}

/** Options of {@link createStreamProgress}. */
export interface StreamProgressOptions {
  /** Where events go (`ctx.progress`). */
  readonly emit: (progress: ToolProgress) => void
  /** Least time between two events, in ms; 0 sends one per chunk. */
  readonly intervalMs: number
  /** A monotonic clock in ms. */
  readonly now: () => number
  /** The answer's token limit, when known: events then carry `fraction = tokens / maxTokens`. */
  readonly maxTokens?: number | undefined
}

/** Creates the throttle for one streamed answer. */
export function createStreamProgress(options: StreamProgressOptions): StreamProgress {
  let pending = ''
  let tokens = 0
  let lastAt = Number.NEGATIVE_INFINITY
  const send = (done: boolean): void => {
    const data: ChatProgressData = { ...(pending === '' ? {} : { delta: pending }), tokens, ...(done ? { done: true } : {}) }
    const fraction = done ? 1 : options.maxTokens === undefined ? undefined : Math.min(1, tokens / options.maxTokens)
    pending = ''
    options.emit({ ...(fraction === undefined ? {} : { fraction }), data })
  }
  return {
    push(delta) {
      if (delta === '') return
      pending += delta
      tokens++
      const now = options.now()
      if (now - lastAt >= options.intervalMs) {
        lastAt = now
        send(false)
      }
    },
    finish() {
      send(true)
    },
  }
}
