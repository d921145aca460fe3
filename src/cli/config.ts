/**
 * The CLI's configuration file (`--config FILE`, else `TASKWEAVE_CONFIG`): YAML or JSON with the
 * engine settings a workflow file does not carry — rate limits per provider key, load-aware
 * scaling, the engine's slot count, the store and a default run budget.
 *
 * ```yaml
 * concurrency: 32
 * store: sqlite:.taskweave/runs.db
 * rates:
 *   openai:gpt-4o-mini: { requests: 500/min, tokens: 200000/min }
 * autoscale: { maxEventLoopLagMs: 100 }
 * budget: { maxTokens: 1000000 }
 * groups: { llm: 8 }          # engine-wide caps per concurrency group, over every workflow's
 * transport: redis://localhost:6379   # run and resume send tasks to workers; workers take them
 * prefix: prod
 * ```
 * @module
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { ValidationError } from '../core/errors.js'
import type { ValidationIssue } from '../core/errors.js'
import type { RateLimitSpec, RunBudgetSpec } from '../core/rate.js'
import { parseWithPositions } from '../workflow/load.js'
import { workflowSchemas } from '../workflow/schema.js'

/** What a configuration file may set. */
export interface CliConfig {
  readonly concurrency?: number
  readonly store?: string
  readonly rates?: Readonly<Record<string, RateLimitSpec>>
  readonly autoscale?: boolean | { readonly min?: number; readonly maxEventLoopLagMs?: number; readonly maxRssBytes?: number; readonly intervalMs?: number }
  readonly budget?: RunBudgetSpec
  /** The broker runs send their tasks through, and workers take them from (`redis://…`, `amqp://…`). */
  readonly transport?: string
  /** Names on the broker start with it. */
  readonly prefix?: string
  /** Engine-wide caps per concurrency group (`{ llm: 8 }`): they override a workflow's `limits.groups`. */
  readonly groups?: Readonly<Record<string, number>>
}

/** Keys a newcomer may write in a configuration file, and what is meant. */
const CONFIG_KEY_HINTS: Readonly<Record<string, string>> = {
  limits: 'a workflow\'s `limits` do not go here: engine-wide caps are `groups: { name: n }`, provider limits `rates`',
  maxConcurrency: 'use "concurrency"',
  workers: 'use "concurrency"',
  rateLimits: 'use "rates"',
  database: 'use "store" (sqlite:FILE, postgres://…, memory)',
  db: 'use "store" (sqlite:FILE, postgres://…, memory)',
  broker: 'use "transport" (redis://…, amqp://…)',
  queue: 'use "transport" (redis://…, amqp://…)',
}

/** The schema of a configuration file, built on first use (see `workflowSchemas`). */
function buildConfigSchema() {
  const { rateKey, rateLimit } = workflowSchemas()
  return z
    .object({
      concurrency: z.number().int().min(1).optional(),
      store: z.string().min(1).optional(),
      rates: z.record(rateKey, rateLimit).optional(),
      autoscale: z
        .union([
          z.boolean(),
          z
            .object({
              min: z.number().int().min(1).optional(),
              maxEventLoopLagMs: z.number().positive().optional(),
              maxRssBytes: z.number().int().positive().optional(),
              intervalMs: z.number().int().min(10).optional(),
            })
            .strict(),
        ])
        .optional(),
      budget: z.object({ maxTokens: z.number().int().min(1).optional(), maxCostUsd: z.number().positive().optional() }).strict().optional(),
      transport: z.string().min(1).optional(),
      prefix: z.string().min(1).optional(),
      groups: z.record(z.string().min(1).max(200), z.number().int().min(1)).optional(),
    })
    .strict()
}

let configSchemaMade: ReturnType<typeof buildConfigSchema> | undefined

function configSchema(): ReturnType<typeof buildConfigSchema> {
  return (configSchemaMade ??= buildConfigSchema())
}

/** Reads the configuration `file` (or `TASKWEAVE_CONFIG`'s; none: empty). Problems throw `TW_VALIDATION` naming the file and field. */
export async function loadCliConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const path = file ?? (env['TASKWEAVE_CONFIG'] !== undefined && env['TASKWEAVE_CONFIG'] !== '' ? env['TASKWEAVE_CONFIG'] : undefined)
  if (path === undefined) return {}
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ValidationError([{ file: path, message: `cannot read the configuration file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }], { subject: 'configuration' })
  }
  let parsed: ReturnType<typeof parseWithPositions>
  try {
    parsed = parseWithPositions(text, path, { allowEmpty: true, mappingMessage: 'a configuration file must hold a mapping of settings (concurrency, store, rates, …)' })
  } catch (err) {
    // The parser's problems (with their lines), reported as the configuration's.
    if (err instanceof ValidationError) throw new ValidationError(err.issues, { subject: 'configuration' })
    throw err
  }
  const value = parsed.value ?? {}
  const checked = configSchema().safeParse(value)
  if (!checked.success) {
    const issues: ValidationIssue[] = []
    for (const issue of checked.error.issues) {
      const at = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
      // An unknown key is named as the field, where it is written.
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined]
      for (const key of keys) {
        const path_ = key === undefined ? at : [...at, key]
        const pos = key === undefined ? parsed.locate(path_) : (parsed.locateKey ?? parsed.locate)(path_)
        const hint = key !== undefined && at.length === 0 && Object.hasOwn(CONFIG_KEY_HINTS, key) ? ` (${CONFIG_KEY_HINTS[key]})` : ''
        const message = key === undefined ? issue.message : at.length === 0 ? `unknown setting${hint}; the settings are ${Object.keys(configSchema().shape).join(', ')}` : 'unknown key'
        issues.push({ file: path, ...(pos !== undefined ? { line: pos.line, column: pos.column } : {}), ...(path_.length > 0 ? { field: path_.join('.') } : {}), message })
      }
    }
    throw new ValidationError(issues, { subject: 'configuration' })
  }
  return checked.data as CliConfig
}
