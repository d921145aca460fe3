/**
 * `taskweave/server`: the HTTP API and the live dashboard over an engine.
 * @module
 */
export { startServer } from './server.js'
export type { TaskweaveServer } from './server.js'
export type { ServerOptions } from './options.js'
export type { ApiRun, ApiRunSummary, ApiTask } from './views.js'
export type { LiveEvent } from './live-runs.js'
export { createEngineMetrics } from './metrics.js'
export type { EngineMetrics, EngineMetricsOptions } from './metrics.js'
