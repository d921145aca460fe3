/**
 * The one workflow schema. The typed builder, YAML files and JSON files all go through it;
 * `workflowJsonSchema()` exports it as JSON Schema so editors can validate YAML as it is typed.
 *
 * The zod schemas are built on first use ({@link workflowSchemas}), not when this module loads:
 * building them takes about 12 ms in a fresh process, and checking a workflow of plain tasks (the
 * compiler's fast path) needs none of them, so neither `import 'taskweave'` nor
 * `taskweave validate` of such a file pays for them.
 * @module
 */
import { z } from 'zod'
import { parseDuration } from '../core/duration.js'
import { parseRateWindow } from '../core/rate-spec.js'

/**
 * Ids of tasks, workflows, inputs and groups: letters, digits, `_` and `-`, at most 128
 * characters, and not a name JavaScript objects treat specially (`__proto__`, `constructor`,
 * `prototype`): such an id would vanish from, or corrupt, every object keyed by ids.
 */
export const ID_PATTERN = /^(?!(?:__proto__|constructor|prototype)$)[A-Za-z0-9_-]{1,128}$/

/** Names refused as ids although they match the character rule. */
export const RESERVED_IDS: readonly string[] = ['__proto__', 'constructor', 'prototype']

/** Builds every workflow schema; see {@link workflowSchemas}. */
function buildSchemas() {
  const id = z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9_-]{1,128} and not be __proto__, constructor or prototype')

  const duration = z
    .union([z.number().nonnegative(), z.string()])
    .refine((value) => parseDuration(value) !== undefined, { message: "must be a duration: milliseconds, or a string like '500ms', '30s', '5m'" })
    .describe("Milliseconds, or a string like '500ms', '30s', '5m', '1h'.")

  /** A time limit: a duration above 0 (a limit of 0 would fail every attempt at once). */
  const timeLimit = duration
    .refine((value) => !(parseDuration(value) === 0), { message: 'must be a duration above 0: a timeout of 0 would fail every attempt at once (leave it out for no limit)' })
    .describe("Milliseconds, or a string like '500ms', '30s', '5m', '1h'; above 0.")

  /** Retry policy of a task. */
  const retrySchema = z
    .object({
      maxAttempts: z.number().int().min(1).max(1000).default(1).describe('Attempts in all, the first included.'),
      initialDelay: duration.default(200).describe('Backoff ceiling before the first retry.'),
      factor: z.number().min(1).max(100).default(2).describe('Growth of the backoff ceiling per retry.'),
      maxDelay: duration.default(30_000).describe('Largest backoff ceiling.'),
      jitter: z.enum(['full', 'none']).default('full').describe('full: wait a random time between 0 and the ceiling.'),
      retryOn: z.array(z.string().min(1)).optional().describe('Retry only errors with one of these codes (e.g. ECONNRESET, TW_TIMEOUT).'),
    })
    .strict()

  /** How a task's parents must have ended for it to run. */
  const triggerSchema = z.enum(['all_succeeded', 'all_done', 'any_succeeded', 'none_failed'])

  /** A rate key: `provider:model` or any name, 1–200 characters. */
  const rateKey = z.string().min(1).max(200)

  /** A budget over a window: `'600/min'` or `{ limit, per }`. */
  const rateWindowSchema = z.union([z.string(), z.object({ limit: z.number().positive(), per: duration }).strict()]).superRefine((value, ctx) => {
    try {
      parseRateWindow('budget', value)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message.replace(/^option "budget" must be/, 'expected') : String(err) })
    }
  })

  /** The limits of one rate key (in a workflow's `limits.rates` and the CLI config). */
  const rateLimitSchema = z
    .object({
      requests: rateWindowSchema.optional().describe("Requests per window, e.g. '500/min'."),
      tokens: rateWindowSchema.optional().describe("Input + output tokens per window, e.g. '200000/min'."),
      concurrent: z.number().int().min(1).optional().describe('Calls in flight at once.'),
      adaptive: z.union([z.boolean(), z.object({ initial: z.number().int().min(1).optional(), min: z.number().int().min(1).optional(), max: z.number().int().min(1).optional() }).strict()]).optional(),
      maxBounces: z.number().int().min(0).optional().describe('429s one task may take before one counts as a failed attempt (default 8).'),
      attemptsPerSecond: z.number().positive().optional().describe('Attempts started per second, retries included (the retry-storm cap).'),
    })
    .strict()

  /** One task of a workflow. */
  const taskSchema = z
    .object({
      id: id.describe('Unique id within the workflow.'),
      tool: z.string().min(1).optional().describe('Name of the tool to run (or give `agent`).'),
      agent: z.string().min(1).optional().describe('Name of the agent to run instead of a tool; the task input is the agent input.'),
      session: z.string().min(1).optional().describe('Agent session whose instance runs the task (may be a template). Default: the run id.'),
      stream: z.boolean().optional().describe("Agent tasks: run the agent's stream() and report each chunk as it comes (task:progress, progress.data); the output is the stream's return value."),
      description: z.string().optional(),
      input: z.record(z.string(), z.unknown()).optional().describe('Tool input; string values may hold {{ templates }}.'),
      dependsOn: z.array(id).optional().describe('Tasks that must finish first (templates add their own).'),
      when: z.string().min(1).optional().describe('CEL condition; the task is skipped when false. e.g. inputs.mode == "full"'),
      trigger: triggerSchema.optional().describe('Rule over parents: all_succeeded (default), all_done, any_succeeded, none_failed.'),
      forEach: z.string().min(1).optional().describe('Template giving a list; one task per item ({{ item }}, {{ index }}).'),
      priority: z.number().int().min(-1_000_000).max(1_000_000).optional().describe('Higher runs first when slots are scarce.'),
      group: id.optional().describe('Concurrency group (limits.groups caps it).'),
      cost: z.number().nonnegative().optional().describe('Expected duration hint (ms) for critical-path ordering.'),
      retry: retrySchema.partial().optional(),
      timeout: timeLimit.optional().describe('Per-attempt time limit.'),
      idempotent: z.boolean().optional().describe('False when running the task twice would do harm: after a crash in its attempt, a durable run fails it TW_UNCERTAIN instead of running it again.'),
      onUncertain: z.enum(['fail', 'retry', 'park']).optional().describe('For a task whose outcome a resume cannot know (idempotent: false and in flight when its process died): fail it TW_UNCERTAIN (fail, the default), run it again with the same idempotency key (retry), or stop the run until an operator records what happened with taskweave resolve (park).'),
      rateKey: rateKey.optional().describe('Rate key whose budgets the task counts against (limits.rates), e.g. openai:gpt-4o. Overrides the tool\'s.'),
    })
    .strict()

  /** Declared workflow input. */
  const inputSchema = z
    .object({
      type: z.enum(['string', 'number', 'boolean', 'object', 'array']).default('string'),
      description: z.string().optional(),
      default: z.unknown().optional(),
      required: z.boolean().optional(),
    })
    .strict()

  /** A whole workflow definition. */
  const workflowSchema = z
    .object({
      id: id.describe('Workflow id.'),
      name: z.string().optional(),
      version: z.union([z.string(), z.number()]).optional(),
      description: z.string().optional(),
      tools: z.array(z.string().min(1)).optional().describe('Modules (relative to this file) whose exported tools join the registry.'),
      inputs: z.record(id, inputSchema).optional(),
      defaults: z
        .object({ retry: retrySchema.partial().optional(), timeout: timeLimit.optional(), group: id.optional() })
        .strict()
        .optional(),
      limits: z
        .object({
          concurrency: z.number().int().min(1).max(1_000_000).optional(),
          groups: z.record(id, z.number().int().min(1)).optional(),
          rates: z.record(rateKey, rateLimitSchema).optional().describe('Budgets per rate key, engine-wide: requests and tokens per window, calls in flight.'),
        })
        .strict()
        .optional(),
      budget: z
        .object({
          maxTokens: z.number().int().min(1).optional().describe('Input + output tokens the run may use.'),
          maxCostUsd: z.number().positive().optional().describe('US dollars the run may spend (needs prices on the LLM tool).'),
        })
        .strict()
        .optional()
        .describe('Once reached, no new LLM task (task with a rate key) starts; the run ends partial.'),
      failFast: z.boolean().optional().describe('Stop the run at the first task failure.'),
      tasks: z.array(taskSchema).min(1, 'a workflow needs at least one task'),
    })
    .strict()

  /**
   * The workflow with its tasks left unchecked: compilation checks each task on its own with
   * the task schema, so the checked copy of one task is garbage before the next is checked
   * (a 100,000-task workflow would otherwise keep a second copy of every task alive).
   */
  const workflowShellSchema = workflowSchema.extend({
    // Checked as a whole, without visiting (and copying) every task: each task gets its own check next.
    tasks: z
      .custom<unknown[]>((value) => Array.isArray(value), { error: (issue) => `Invalid input: expected array, received ${issue.input === null ? 'null' : typeof issue.input}` })
      .refine((tasks) => tasks.length > 0, 'a workflow needs at least one task'),
  })

  return { id, duration, retry: retrySchema, trigger: triggerSchema, rateKey, rateLimit: rateLimitSchema, task: taskSchema, input: inputSchema, workflow: workflowSchema, workflowShell: workflowShellSchema }
}

/** The workflow schemas (zod), by what they check. */
export type WorkflowSchemas = ReturnType<typeof buildSchemas>

let schemas: WorkflowSchemas | undefined

/**
 * The workflow schemas, built on the first call and shared after: `task` (one task), `workflow`
 * (a whole definition), `workflowShell` (a definition with its tasks left to `task`, as the compiler
 * checks them), `retry`, `trigger`, `rateKey`, `rateLimit` (one rate key's limits), `input` (a
 * declared input), `id` and `duration`.
 */
export function workflowSchemas(): WorkflowSchemas {
  return (schemas ??= buildSchemas())
}

/** @internal Whether {@link workflowSchemas} built them already (for the test that they load late). */
export function schemasBuilt(): boolean {
  return schemas !== undefined
}

/** JSON Schema (draft 2020-12) of a workflow file, for editors and other tools. */
export function workflowJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://taskweave.dev/schema/workflow.schema.json',
    title: 'taskweave workflow',
    ...z.toJSONSchema(workflowSchemas().workflow, { io: 'input', unrepresentable: 'any' }),
  }
}
