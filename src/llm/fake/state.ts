/**
 * What a running fake remembers: its counters, the requests it received, the timeline and the
 * position in the script. One place, so that {@link FakeState.reset} puts all of it back.
 * @module
 */
import type { Quota } from './quota.js'
import type { FakeChatRequest, FakeLlmStats, FakeReplyObject, FakeScript, FakeTimelineEntry } from './types.js'

/** How one chat request ended, for the counters and the timeline. */
export interface RequestEnd {
  /** HTTP status, or 0 when the client went away first. */
  readonly status: number
  readonly inputTokens: number
  readonly outputTokens: number
}

/** The mutable state of one fake server. */
export class FakeState {
  readonly #script: FakeScript | undefined
  readonly #recordRequests: boolean
  readonly #keepTimeline: boolean
  readonly #quota: Quota
  readonly #now: () => number
  #startedAt: number
  #arrivals = 0
  #admitted = 0
  #inFlight = 0
  #counters = zeroCounters()
  #requests: FakeChatRequest[] = []
  #timeline: FakeTimelineEntry[] = []

  constructor(options: { readonly script?: FakeScript | undefined; readonly recordRequests: boolean; readonly timeline: boolean }, quota: Quota, now: () => number) {
    this.#script = options.script
    this.#recordRequests = options.recordRequests
    this.#keepTimeline = options.timeline
    this.#quota = quota
    this.#now = now
    this.#startedAt = now()
  }

  /** The index of the chat request arriving now. */
  nextIndex(): number {
    return this.#arrivals++
  }

  /**
   * Counts a parsed request as received and in flight; returns the function to call once when it
   * ends (answered or abandoned).
   */
  begin(request: FakeChatRequest): (end: RequestEnd) => void {
    const startMs = this.#now() - this.#startedAt
    this.#counters.requests++
    if (this.#recordRequests) this.#requests.push(request)
    this.#inFlight++
    this.#counters.maxConcurrent = Math.max(this.#counters.maxConcurrent, this.#inFlight)
    let ended = false
    return (end) => {
      if (ended) return
      ended = true
      this.#inFlight--
      const counters = this.#counters
      if (end.status === 0) counters.disconnected++
      else if (end.status === 429) counters.rateLimited++
      else if (end.status >= 500) counters.errors++
      else if (end.status < 300) {
        counters.completed++
        counters.inputTokens += end.inputTokens
        counters.outputTokens += end.outputTokens
      }
      if (this.#keepTimeline) this.#timeline.push({ index: request.index, startMs, endMs: this.#now() - this.#startedAt, ...end })
    }
  }

  /** The scripted reply for an admitted request (moving along the script), or undefined for the default answer. */
  scriptedReply(request: FakeChatRequest): FakeReplyObject | undefined {
    const index = this.#admitted++
    const script = this.#script
    const reply = typeof script === 'function' ? script(request, index) : script?.[index]
    return typeof reply === 'string' ? { content: reply } : reply
  }

  /** A snapshot of the statistics. */
  stats(): FakeLlmStats {
    return { ...this.#counters, inFlight: this.#inFlight, ...(this.#keepTimeline ? { timeline: [...this.#timeline] } : {}) }
  }

  /** The recorded requests. */
  requests(): readonly FakeChatRequest[] {
    return [...this.#requests]
  }

  /**
   * Back to the state just after start. Requests still in flight stay counted in `inFlight` (and
   * so in `maxConcurrent`), and count in the new statistics when they end.
   */
  reset(): void {
    this.#startedAt = this.#now()
    this.#arrivals = 0
    this.#admitted = 0
    this.#counters = { ...zeroCounters(), maxConcurrent: this.#inFlight }
    this.#requests = []
    this.#timeline = []
    this.#quota.reset(this.#startedAt)
  }
}

function zeroCounters(): { requests: number; completed: number; rateLimited: number; errors: number; disconnected: number; inputTokens: number; outputTokens: number; maxConcurrent: number } {
  return { requests: 0, completed: 0, rateLimited: 0, errors: 0, disconnected: 0, inputTokens: 0, outputTokens: 0, maxConcurrent: 0 }
}
