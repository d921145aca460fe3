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
 * transport: redis://localhost:6379   # run and resume send tasks to workers; workers take them
 * prefix: prod
 * ```
 * @module
 */
import { readFile } from 'node:fs/promises'
import { parse } from 'yaml'
import { z } from 'zod'
import { ValidationError } from '../core/errors.js'
import type { RateLimitSpec, RunBudgetSpec } from '../core/rate.js'
import { rateKey, rateLimitSchema } from '../workflow/schema.js'

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
}

const configSchema = z
  .object({
    concurrency: z.number().int().min(1).optional(),
    store: z.string().min(1).optional(),
    rates: z.record(rateKey, rateLimitSchema).optional(),
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
  })
  .strict()

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
  let value: unknown
  try {
    value = parse(text, { maxAliasCount: 100 }) ?? {}
  } catch (err) {
    throw new ValidationError([{ file: path, message: `not valid YAML or JSON: ${err instanceof Error ? err.message : String(err)}` }], { subject: 'configuration' })
  }
  const checked = configSchema.safeParse(value)
  if (!checked.success) throw new ValidationError(checked.error.issues.map((issue) => ({ file: path, field: issue.path.join('.'), message: issue.message })), { subject: 'configuration' })
  return checked.data as CliConfig
}
