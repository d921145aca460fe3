/**
 * Workflow definitions beyond the basics at the root: compiling and loading, the schema (zod and
 * JSON Schema), the builder's types, durations. Import from `taskweave/workflow`.
 * @module
 */
export { defineWorkflow, workflow, WorkflowBuilder } from './builder.js'
export type { BuilderTaskOptions, BuiltWorkflow, TemplateInput, TemplateString } from './builder.js'
export { compileWorkflow } from './compile.js'
export type { CompiledTask, CompiledWorkflow, CompileOptions } from './compile.js'
export type { WorkflowInput } from './input.js'
export { loadWorkflowFile, parseWorkflowText } from './load.js'
export { loadConditionLanguage } from './expression.js'
export type { LoadOptions } from './load.js'
export { workflowJsonSchema } from './schema.js'
export { workflowSchema } from './public-schema.js'
export type { RetrySpec, TaskSpec, TriggerRule, WorkflowSpec } from './types.js'
export type { DurationSpec, InputSpec } from '../core/spec.js'
export { parseDuration } from '../core/duration.js'
export type { Duration } from '../core/duration.js'
export { formatIssue } from '../core/errors.js'
