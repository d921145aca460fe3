/** The latency of one answer, from the configured distribution. @module */
import type { FakeChatRequest, FakeLatency } from './types.js'

/**
 * Milliseconds to wait before answering `request`: a fixed number, uniform in `[min, max]`
 * (drawn with `random`), or what the function says. Negative or non-finite values count as 0,
 * so a faulty latency function cannot stall or crash the server.
 */
export function pickLatency(latency: FakeLatency | undefined, request: FakeChatRequest, random: () => number): number {
  let ms: number
  if (latency === undefined) ms = 0
  else if (typeof latency === 'number') ms = latency
  else if (typeof latency === 'function') ms = latency(request)
  else ms = latency.min + random() * (latency.max - latency.min)
  return Number.isFinite(ms) && ms > 0 ? ms : 0
}
