/**
 * The BeeAI parallel execution controller's interface (seed 003's "WorkflowOrchestrator") over
 * the taskweave engine: agent tasks with dependencies, concurrency groups and tasks added by
 * completion handlers, rate keys, and checkpoints to resume after a crash. Import from `taskweave/compat/beeai`; new code should use `createEngine()`.
 * @module
 */
export { WorkflowOrchestrator } from '../seeds/orchestrator/index.js'
export type {
  WorkflowOrchestratorOptions,
  ExecuteWorkflowOptions,
  ResumeWorkflowOptions,
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
} from '../seeds/orchestrator/index.js'
