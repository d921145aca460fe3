/**
 * The workflow schema as a value of `taskweave/workflow`, for callers that validate or extend it
 * themselves. Kept apart from `schema.ts`, whose schemas are built on first use: importing this
 * module builds them, and only `taskweave/workflow` imports it.
 * @module
 */
import { workflowSchemas } from './schema.js'
import type { WorkflowSchemas } from './schema.js'

/** The zod schema of a whole workflow definition (what YAML, JSON and the builder go through). */
export const workflowSchema: WorkflowSchemas['workflow'] = workflowSchemas().workflow
