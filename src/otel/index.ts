/**
 * `taskweave/otel`: OpenTelemetry spans of an engine's runs, tasks and attempts, and of the
 * attempts a worker runs for a remote owner (joined to the owner's trace).
 * @module
 */
export { traceEngine, traceparentOf } from './trace-engine.js'
export type { EngineTracing, TraceEngineOptions } from './trace-engine.js'
export { traceWorkerAttempts } from './trace-worker.js'
export type { TraceWorkerOptions } from './trace-worker.js'
