/**
 * taskweave: run AI-agent and tool work in parallel — DAG workflows with priorities, concurrency
 * groups, retries, timeouts, cancellation and live events; agents with sessions; background work
 * beside a conversation; state machines.
 *
 * The root holds what a user learns first. More lives on subpaths: `taskweave/workflow`
 * (compile, load, schema), `taskweave/tools` (built-in tools), `taskweave/agents` (the session
 * pool), `taskweave/background`, `taskweave/state-machines`, `taskweave/workers`,
 * `taskweave/ports` (attempt runners, clock, registry), `taskweave/testing` (ManualClock), and
 * the seed facades `taskweave/compat/laios` (Executor) and `taskweave/compat/beeai`
 * (WorkflowOrchestrator).
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
// Engine and runs
export { createEngine } from './engine/engine.js'
export { MemoryRunStore } from './stores/memory.js'
export type { Engine, EngineOptions, RunHandle, RunOptions } from './engine/engine.js'
export type { RunControl, TaskCompleteHandler, TaskCompletion } from './engine/run-types.js'
export type { AttemptRecord, RunResult, TaskReport } from './core/report.js'

// Statuses. The types of durable runs and of the store port are on `taskweave/ports`, those of
// rate keys and budgets on `taskweave/llm`.
export type { RunStatus, TaskStatus } from './core/status.js'

// Tools
export { defineTool } from './core/tool.js'
export type { AnyTool, Tool, ToolContext, ToolDefinition, ToolProgress } from './core/tool.js'

// Workflows
export { defineWorkflow, workflow } from './workflow/builder.js'
export type { BuiltWorkflow } from './workflow/builder.js'
export type { CompiledWorkflow } from './workflow/compile.js'
export type { WorkflowInput } from './workflow/input.js'
export { loadWorkflowFile } from './workflow/load-on-demand.js'
export type { TaskSpec, WorkflowSpec } from './core/spec.js'

// Errors
export { CancelledError, InvalidOptionError, RateLimitedError, TaskweaveError, TerminalError, TimeoutError, ValidationError, deserializeError, serializeError } from './core/errors.js'
export type { ErrorCode, SerializedError, ValidationIssue } from './core/errors.js'

// Time and logs
export { sleep, systemClock } from './core/clock.js'
export type { Clock } from './core/clock.js'
export { createConsoleLogger, pinoLogger, silentLogger } from './core/logger.js'
export type { Logger } from './core/logger.js'

// Events
export type { EventMap, EventName, TaskweaveEvent, ThrottleReason } from './observe/events.js'
export type { Unsubscribe } from './observe/emitter.js'

// Agents
export { AgentError, defineAgent } from './agents/index.js'
export type { Agent, AgentDefinition, AgentExecutionContext } from './agents/index.js'

// Background work: `engine.background`; its types are on `taskweave/background`.

// State machines
export { DONE, defineStateMachine, runStateMachine, stateMachineTool, StateMachineError } from './fsm/index.js'
export type { StateMachine, StateMachineResult } from './fsm/index.js'

// Worker threads
export { defineWorkerTool } from './workers/index.js'
