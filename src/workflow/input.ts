/** What an engine accepts as a workflow to run. @module */
import type { WorkflowSpec } from '../core/spec.js'
import type { BuiltWorkflow } from './builder.js'
import type { CompiledWorkflow } from './compile.js'

/** A workflow as `engine.start()` accepts it: compiled, as a plain definition, or from the typed builder. */
export type WorkflowInput = CompiledWorkflow | WorkflowSpec | BuiltWorkflow
