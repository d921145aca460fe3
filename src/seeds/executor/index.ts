/**
 * The LAIOS executor as a taskweave entry point: `new Executor({ registry, limits, maxWorkers })`
 * with `executeParallel`, `executeTask`, `executeWithRetry`, `getAllMetrics` and `await using`.
 * @module
 */
export { Executor } from './executor.js'
export { createTask } from './types.js'
export type {
  Checkpoint,
  Context,
  IdentifiedTask,
  ProgressData,
  ProgressEvent,
  ProgressEventMap,
  ProgressListener,
  Task,
  TaskErrorInfo,
  TaskMetrics,
  TaskResult,
  TaskResultMetadata,
} from './types.js'
export type { ExecuteOptions, ExecutorLimits, ExecutorOptions, RetryOptions, ShutdownOptions } from './options.js'
