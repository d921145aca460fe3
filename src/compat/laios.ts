/**
 * The LAIOS executor's interface (seed 001's "Executor") over the taskweave engine: parallel
 * independent tasks with results in input order, progress, retries, metrics and checkpoints.
 * Import from `taskweave/compat/laios`; new code should use `createEngine()` directly.
 * @module
 */
export { Executor, createTask } from '../seeds/executor/index.js'
export type {
  Task,
  Context,
  TaskResult,
  IdentifiedTask,
  TaskErrorInfo,
  TaskResultMetadata,
  TaskMetrics,
  Checkpoint,
  ProgressEvent,
  ProgressEventMap,
  ProgressData,
  ProgressListener,
  ExecutorOptions,
  ExecutorLimits,
  ExecuteOptions,
  RetryOptions,
  ShutdownOptions,
} from '../seeds/executor/index.js'
