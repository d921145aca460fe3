/**
 * taskweave: run AI-agent and tool work in parallel — DAG workflows with priorities, concurrency
 * groups, retries, timeouts, cancellation and live events.
 * @example
 * import { createEngine, defineTool, workflow } from 'taskweave'
 * import { z } from 'zod'
 *
 * const double = defineTool({ name: 'math.double', input: z.object({ n: z.number() }), run: ({ n }) => n * 2 })
 * await using engine = createEngine()
 * const flow = workflow({ id: 'demo' })
 *   .task('a', double, { input: { n: 21 } })
 *   .task('b', double, { input: { n: '{{ tasks.a.output }}' } })
 *   .build()
 * const result = await engine.run(flow)
 * console.log(result.tasks['b']?.output) // 84
 * @module
 */
export { createEngine } from './engine/engine.js'
export type { Engine, EngineOptions, RunHandle, RunOptions, WorkflowInput } from './engine/engine.js'
export type { RunControl, TaskCompleteHandler, TaskCompletion } from './engine/run.js'
export type { AttemptRecord, RunResult, TaskReport } from './engine/report.js'
export { TASK_TRANSITIONS, canTransition, isTerminal } from './engine/states.js'
export type { RunStatus, TaskStatus } from './engine/states.js'

export { defineTool, isTool } from './core/tool.js'
export type { AnyTool, Tool, ToolContext, ToolDefinition, ToolProgress } from './core/tool.js'
export { ToolRegistry } from './core/registry.js'
export {
  CancelledError,
  InvalidOptionError,
  TaskweaveError,
  TerminalError,
  TimeoutError,
  ValidationError,
  deserializeError,
  formatIssue,
  serializeError,
} from './core/errors.js'
export type { ErrorCode, SerializedError, TaskweaveErrorOptions, ValidationIssue } from './core/errors.js'
export { sleep, systemClock } from './core/clock.js'
export type { CancelTimer, Clock } from './core/clock.js'
export { parseDuration } from './core/duration.js'
export type { Duration } from './core/duration.js'
export { createConsoleLogger, silentLogger } from './core/logger.js'
export type { LogFields, Logger } from './core/logger.js'

export { defineWorkflow, workflow, WorkflowBuilder } from './workflow/builder.js'
export type { BuilderTaskOptions, BuiltWorkflow, TemplateInput, TemplateString } from './workflow/builder.js'
export { compileWorkflow } from './workflow/compile.js'
export type { CompiledTask, CompiledWorkflow, CompileOptions, TaskGraph, TaskShape } from './workflow/compile.js'
export { loadWorkflowFile, parseWorkflowText } from './workflow/load.js'
export type { LoadOptions } from './workflow/load.js'
export { workflowJsonSchema, workflowSchema } from './workflow/schema.js'
export type { RetrySpec, TaskSpec, TriggerRule, WorkflowSpec } from './workflow/types.js'

export { EventEmitter } from './observe/emitter.js'
export type { Unsubscribe } from './observe/emitter.js'
export type { EventMap, EventName, TaskweaveEvent } from './observe/events.js'

export { builtinTools, createFsTools, createHttpTools } from './tools/index.js'
export type { BuiltinToolOptions, FsToolOptions, HttpToolOptions } from './tools/index.js'

export { Executor, createTask } from './seeds/executor/index.js'
export type {
  Task as ExecutorTask,
  Context as ExecutorContext,
  TaskResult as ExecutorTaskResult,
  IdentifiedTask,
  TaskErrorInfo,
  TaskResultMetadata,
  TaskMetrics,
  Checkpoint as TaskCheckpoint,
  ProgressEvent,
  ProgressEventMap,
  ProgressData,
  ProgressListener,
  ExecutorOptions,
  ExecutorLimits,
  ExecuteOptions,
  RetryOptions,
  ShutdownOptions,
} from './seeds/executor/index.js'
export { WorkflowOrchestrator } from './seeds/orchestrator/index.js'
export type {
  WorkflowOrchestratorOptions,
  ExecuteWorkflowOptions,
  AgentHandler,
  AgentFunction,
  AgentObject,
  AgentContext,
  AgentData,
  AgentTask,
  AgentTaskResult,
  OrchestratorControl,
  TaskCompleteListener,
  TaskFailure,
  HandlerFailure,
  WorkflowResult,
} from './seeds/orchestrator/index.js'

export { ConcurrentExecutor, FsmExecutor, BACKGROUND_TRANSITIONS } from './background/index.js'
export type {
  BackgroundContext,
  BackgroundEngine,
  BackgroundFinalStatus,
  BackgroundFunction,
  BackgroundKind,
  BackgroundOutcome,
  BackgroundStats,
  BackgroundStatus,
  BackgroundTaskId,
  BackgroundTaskInfo,
  ConcurrentExecutorOptions,
  EndConversationResult,
  FsmExecutorOptions,
  FsmSubmitOptions,
  SubmitBase,
  SubmitFunction,
  SubmitOptions,
  SubmitStateMachine,
  SubmitWorkflow,
} from './background/index.js'
export { DONE, defineStateMachine, isStateMachine, runStateMachine, stateMachineTool, StateMachineError } from './fsm/index.js'
export type {
  Done,
  RunStateMachineOptions,
  StateContext,
  StateMachine,
  StateMachineDefinition,
  StateMachineErrorCode,
  StateMachineErrorOptions,
  StateMachineResult,
  StateMachineToolInput,
  StateMachineToolOptions,
  StateMachineToolOutput,
  StateRetry,
  StateSpec,
  StepResult,
  StepReturn,
  Transition,
} from './fsm/index.js'

export { defineAgent, isAgent, AgentSessionPool, AgentTaskManager, AgentError, agentTool, createAgentTool } from './agents/index.js'
export type {
  Agent,
  AnyAgent,
  AgentDefinition,
  AgentExecutionContext,
  AgentSessionPoolOptions,
  AgentExecuteOptions,
  AgentPoolCloseOptions,
  AgentChunk,
  AgentPoolHealth,
  AgentPoolMetrics,
  AgentMetrics,
  AgentErrorCode,
  AgentToolOptions,
} from './agents/index.js'
export { defineWorkerTool, WorkerPools, closeWorkerPools, sharedWorkerPools, createYielder, yieldToEventLoop } from './workers/index.js'
export type { WorkerTool, WorkerToolDefinition, WorkerToolInfo, WorkerPoolStats, WorkerPoolOptions, YielderOptions } from './workers/index.js'
