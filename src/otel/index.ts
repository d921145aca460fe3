/**
 * `taskweave/otel`: OpenTelemetry spans of an engine's runs, tasks and attempts.
 * @module
 */
export { traceEngine } from './trace-engine.js'
export type { EngineTracing, TraceEngineOptions } from './trace-engine.js'
