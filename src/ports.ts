/**
 * The engine's ports, for those who plug in their own parts: attempt runners (the boundary a
 * remote worker or a journal replay implements), the clock, the logger, the tool registry, the
 * requests a run store of one's own serves.
 * Import from `taskweave/ports`.
 * @module
 */
export { attemptIdOf, deliverOutcome } from './core/attempt.js'
export type { AttemptOutcome, AttemptRequest, AttemptRunner, AttemptSink } from './core/attempt.js'
export type { AttemptWrapper } from './engine/local-runner.js'
export { setLongTimeout, MAX_TIMER_MS, sleep, systemClock } from './core/clock.js'
export type { CancelTimer, Clock, LongTimeoutOptions } from './core/clock.js'
export type { LogFields, Logger } from './core/logger.js'
// What a RunStore of one's own takes and gives (the store itself and its results are at the root).
export type { AcquireRequest, AppendResult, JournalBatch, JournalKind, LeaseRequest, NewRun, PruneOptions } from './core/store.js'
export { ToolRegistry } from './core/registry.js'
export { isTool } from './core/tool.js'
export type { KeyStats } from './scheduler/keyed-limiter.js'
export { describeThrown } from './core/thrown.js'
