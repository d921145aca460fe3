/**
 * The engine's ports, for those who plug in their own parts: attempt runners (the boundary a
 * remote worker or a journal replay implements), the clock, the logger, the tool registry, the
 * requests a run store of one's own serves.
 * Import from `taskweave/ports`.
 * @module
 */
export { attemptIdOf, deliverOutcome } from './core/attempt.js'
export type { AttemptOutcome, AttemptRequest, AttemptRunner, AttemptSink, RunnerHealth } from './core/attempt.js'
export type { AttemptWrapper } from './engine/local-runner.js'
export { setLongTimeout, MAX_TIMER_MS, sleep, systemClock } from './core/clock.js'
export type { CancelTimer, Clock, LongTimeoutOptions } from './core/clock.js'
export type { LogFields, Logger } from './core/logger.js'
// The run store port: what a RunStore of one's own is, takes and gives.
export type { AcquireRequest, AppendResult, JournalBatch, JournalEntry, JournalKind, Lease, LeaseRequest, NewRun, PruneOptions, ReopenRequest, RunFilter, RunStore, RunSummary, StoredRun, StoredRunStatus } from './core/store.js'
// The engine's durable-run and lifecycle options and answers (`durability`, `resolveParked`,
// `cancelUnfinished`, `resume`, `close`, `stats`, `autoscale`).
export type { DurabilityOptions } from './engine/durable.js'
export type { ParkedDecision, ParkedResolution, ResolveParkedOptions } from './engine/resolve-parked.js'
export type { ParkedTask } from './engine/replay-log.js'
export type { CancelledRun, CancelUnfinishedOptions } from './engine/cancel-stored.js'
export type { RetriedTask, RetryRunOptions } from './engine/retry-run.js'
export type { AutoscaleOptions, EngineCloseOptions, EngineCloseReport, EngineStats, ResumeOptions, StoreStats } from './engine/engine.js'
export type { AbandonedToolCall } from './engine/local-tool-context.js'
export type { FieldsFirstLogger } from './core/logger.js'
// Types the public signatures name (the engine's options, stats and events), to name them in turn.
export type { BuiltinsOption } from './engine/tool-registry.js'
export type { MemoryRunStoreOptions } from './stores/memory.js'
export type { TaskweaveErrorOptions } from './core/errors.js'
export type { RateKeyStats } from './scheduler/rate-limiter.js'
export type { LoadScalerStats } from './scheduler/load-scaler.js'
export type { KeyedLimiter } from './scheduler/keyed-limiter.js'
export type { EventEmitter } from './observe/emitter.js'
export { ToolRegistry } from './core/registry.js'
export { isTool } from './core/tool.js'
export type { ToolPermit } from './core/tool.js'
export type { KeyStats } from './scheduler/keyed-limiter.js'
export { describeThrown } from './core/thrown.js'
