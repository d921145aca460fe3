/**
 * The BeeAI parallel execution controller as a taskweave entry point:
 * `new WorkflowOrchestrator({ agents, parallelExecution, maxConcurrentTasks, dynamicTasks })`,
 * `addTask`, `onTaskComplete`, `executeWorkflow` and, on an engine with a store, `resumeWorkflow`.
 * @module
 */
export { WorkflowOrchestrator } from './orchestrator.js'
export type { ExecuteWorkflowOptions, ResumeWorkflowOptions, WorkflowOrchestratorOptions } from './options.js'
export type {
  AgentContext,
  AgentData,
  AgentFunction,
  AgentHandler,
  AgentObject,
  AgentTask,
  AgentTaskResult,
  HandlerFailure,
  OrchestratorControl,
  TaskCompleteListener,
  TaskFailure,
  WorkflowResult,
} from './types.js'
