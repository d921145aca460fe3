/** Types of workflow definitions (derived from the schema) and of their resolved, internal form. @module */
import type { z } from 'zod'
import type { retrySchema, taskSchema, triggerSchema, workflowSchema } from './schema.js'

/** A task as written by a user (YAML, JSON or code). */
export type TaskSpec = z.input<typeof taskSchema>
/** A workflow as written by a user. */
export type WorkflowSpec = z.input<typeof workflowSchema>
/** A trigger rule. */
export type TriggerRule = z.infer<typeof triggerSchema>
/** A retry policy as written. */
export type RetrySpec = z.input<typeof retrySchema>

/** Retry policy with every default filled and durations in ms. */
export interface ResolvedRetry {
  readonly maxAttempts: number
  readonly initialDelayMs: number
  readonly factor: number
  readonly maxDelayMs: number
  readonly jitter: 'full' | 'none'
  readonly retryOn: readonly string[] | undefined
}
