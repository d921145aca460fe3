/**
 * Heavy work off the event loop (seed 001 "threads/processes for CPU work", seed 003 cooperative
 * multitasking): worker tools running in shared piscina pools, and yield helpers for loops that
 * stay on the main thread.
 * @module
 */
export { defineWorkerTool } from './worker-tool.js'
export type { WorkerTool, WorkerToolDefinition, WorkerToolInfo } from './worker-tool.js'
export { WorkerPools, closeWorkerPools, sharedWorkerPools } from './pools.js'
export type { WorkerPoolStats } from './pools.js'
export type { WorkerPoolOptions } from './options.js'
export { createYielder, yieldToEventLoop } from './cooperate.js'
export type { YielderOptions } from './cooperate.js'
