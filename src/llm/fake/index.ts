/**
 * A local fake of OpenAI's chat completions API, for tests, benchmarks and trying workflows
 * without a key or a bill: `startFakeLlm()` gives a base URL for the official `openai` client
 * (or any OpenAI-compatible one), with scripted replies, RPM/TPM quotas answered with 429s and
 * OpenAI's rate-limit headers, latency and an error rate.
 *
 * ```ts
 * const fake = await startFakeLlm({ rpm: 600, tpm: 200_000, latencyMs: { min: 200, max: 2000 } })
 * const client = new OpenAI({ baseURL: fake.url, apiKey: 'fake' })
 * ```
 * @module
 */
export { startFakeLlm, DEFAULT_WINDOW_MS } from './server.js'
export { formatResetDuration } from './reset-duration.js'
export type {
  FakeChatMessage,
  FakeChatRequest,
  FakeJson,
  FakeLatency,
  FakeLlm,
  FakeLlmOptions,
  FakeLlmStats,
  FakeReply,
  FakeReplyObject,
  FakeScript,
  FakeTimelineEntry,
  FakeToolCall,
} from './types.js'
