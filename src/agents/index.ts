/**
 * Agent sessions (seed 002): `defineAgent`, the session pool (`AgentSessionPool`, what seed 002
 * calls an AgentTaskManager), streaming chunks, health and metrics, and `createAgentTool`.
 * Import from `taskweave/agents` (`defineAgent` is also at the root).
 * @module
 */
export { defineAgent, isAgent, AGENT_NAME_PATTERN } from './define-agent.js'
export type { Agent, AgentExecutionContext, AgentDefinition, AnyAgent } from './define-agent.js'
export { AgentSessionPool } from './session-pool.js'
export type { AgentExecuteOptions, AgentPoolCloseOptions } from './session-pool.js'
export type { AgentSessionPoolOptions } from './options.js'
export type { AbandonedWork, AgentPoolCloseReport, InFlightStage } from './in-flight.js'
export type { AgentChunk } from './stream.js'
export type { AgentMetrics, AgentPoolHealth, AgentPoolMetrics } from './metrics.js'
export { AgentError } from './errors.js'
export type { AgentErrorCode } from './errors.js'
export { createAgentTool } from './agent-tool.js'
export type { AgentToolOptions } from './agent-tool.js'
