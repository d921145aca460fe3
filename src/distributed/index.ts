/**
 * Distributed execution: an owner engine sends attempts to worker processes through a transport
 * (in-process, BullMQ on Redis, RabbitMQ). Import from `taskweave/distributed`.
 *
 * ```ts
 * const transport = await createTransport({ type: 'redis', url: process.env.REDIS_URL })
 * // the owner: orders, limits, retries, journals
 * const engine = createEngine({ tools, concurrency: 64, runner: createRemoteRunner({ transport }) })
 * // each worker process
 * await startWorker({ transport, tools, concurrency: 16 })
 * ```
 * @module
 */
export { createRemoteRunner, RemoteAttemptRunner } from './remote-runner.js'
export type { RemoteRunnerOptions, RemoteRunnerStats, SharedLimits } from './remote-runner.js'
export type { SharedRateSpec } from './shared-rates.js'
export { startWorker } from './worker.js'
export type { Worker, WorkerHealth, WorkerOptions, WorkerStats } from './worker.js'
export { workerSettingsFromEnv } from './env.js'
export type { WorkerEnvSettings } from './env.js'
