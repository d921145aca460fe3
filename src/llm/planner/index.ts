/**
 * The planner: a language model turns a goal into a taskweave workflow over the tools it is
 * given. `planWorkflow` returns the workflow compiled and ready for `engine.run`, after repairing
 * an invalid answer by sending the problems back; `createPlannerTool` does the same inside a
 * running workflow (`llm.plan`) and adds the planned tasks to the run.
 *
 * @example
 * const planned = await planWorkflow({ goal: 'Fetch https://example.com and summarise it', tools: engine.registry, llm: { model: 'gpt-4o-mini' } })
 * const result = await engine.run(planned.workflow)
 * @module
 */
export { planWorkflow, DEFAULT_MAX_REPAIRS } from './plan.js'
export type { PlannedWorkflow, PlanUsage, PlanWorkflowOptions } from './plan.js'
export { createPlannerTool, planToolInput } from './planner-tool.js'
export type { PlannerTool, PlannerToolOptions, PlannerToolSource, PlanToolOutput } from './planner-tool.js'
export type { PlannerLlm } from './llm.js'
export type { CatalogueEntry, PlannerTools } from './catalogue.js'
export { toolCatalogue } from './catalogue.js'
export { planJsonSchema, planSchema, DEFAULT_PLAN_ID } from './schema.js'
export { prefixTasks } from './prefix.js'
