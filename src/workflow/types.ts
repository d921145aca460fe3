/**
 * Types of workflow definitions. The plain types live in `core/spec.ts` (every layer names them);
 * this module checks at compile time that the zod schema accepts exactly them.
 * @module
 */
import type { z } from 'zod'
import type { ResolvedRetry, RetrySpec, TaskSpec, TriggerRule, WorkflowSpec } from '../core/spec.js'
import type { WorkflowSchemas } from './schema.js'

export type { ResolvedRetry, RetrySpec, TaskSpec, TriggerRule, WorkflowSpec }

/** `true` only when `A` and `B` are assignable both ways. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false

/** Fails to compile when a schema and its plain type drift apart. */
export type SchemaMatchesSpec = [
  Same<z.input<WorkflowSchemas['task']>, TaskSpec>,
  Same<z.input<WorkflowSchemas['workflow']>, WorkflowSpec>,
  Same<z.infer<WorkflowSchemas['trigger']>, TriggerRule>,
  Same<z.input<WorkflowSchemas['retry']>, RetrySpec>,
] extends [true, true, true, true]
  ? true
  : never

// Evaluated by the type checker only: `never` here means a schema and its spec type differ.
const schemaMatchesSpec: SchemaMatchesSpec = true
void schemaMatchesSpec
