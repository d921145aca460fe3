/**
 * Checks of engine and run options that are not a single value's range: names nobody declared
 * (a typo, or a feature of another library such as `rateLimits` or `checkpoint`) are refused with
 * the close matches, rather than silently ignored; group caps are checked per group.
 * @module
 */
import { InvalidOptionError } from '../core/errors.js'
import { ID_PATTERN } from '../workflow/schema.js'
import type { RunBudgetSpec } from '../core/rate.js'

/** Every option `createEngine()` knows. */
export const ENGINE_OPTION_NAMES: readonly string[] = [
  'tools',
  'agents',
  'background',
  'agentPool',
  'builtins',
  'concurrency',
  'clock',
  'random',
  'logger',
  'maxOutputBytes',
  'maxForEachItems',
  'maxInputBytes',
  'groups',
  'runner',
  'store',
  'durability',
  'rates',
  'autoscale',
]

/** Every option `engine.start()` / `engine.run()` knows. */
export const RUN_OPTION_NAMES: readonly string[] = ['inputs', 'signal', 'concurrency', 'failFast', 'runId', 'onTaskComplete', 'groupScope', 'durable', 'labels', 'budget']

export { refuseUnknownOptions } from '../core/known-options.js'

/** Checks engine-wide group caps: each an integer ≥ 1; a null-prototype copy, so `__proto__` is an ordinary name. */
export function checkGroupLimits(groups: Readonly<Record<string, number>> | undefined): Readonly<Record<string, number>> | undefined {
  if (groups === undefined) return undefined
  if (typeof groups !== 'object' || groups === null) throw new InvalidOptionError('groups', 'an object of group name → cap', groups)
  const out = Object.create(null) as Record<string, number>
  for (const name of Object.keys(groups)) {
    if (!ID_PATTERN.test(name)) throw new InvalidOptionError(`groups.${name}`, 'a group name of letters, digits, "_" and "-" (not __proto__, constructor or prototype)', name)
    const cap = groups[name]
    if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1) throw new InvalidOptionError(`groups.${name}`, 'an integer ≥ 1', cap)
    out[name] = cap
  }
  return out
}

/** Checks a run's `budget`: `maxTokens` an integer ≥ 1, `maxCostUsd` a number > 0, nothing else. */
export function checkBudget(budget: RunBudgetSpec): RunBudgetSpec {
  if (typeof budget !== 'object' || budget === null) throw new InvalidOptionError('budget', 'an object with maxTokens and/or maxCostUsd', budget)
  for (const name of Object.keys(budget)) if (name !== 'maxTokens' && name !== 'maxCostUsd') throw new InvalidOptionError(`budget.${name}`, 'maxTokens or maxCostUsd', name)
  const { maxTokens, maxCostUsd } = budget
  if (maxTokens !== undefined && (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1)) throw new InvalidOptionError('budget.maxTokens', 'an integer ≥ 1', maxTokens)
  if (maxCostUsd !== undefined && (typeof maxCostUsd !== 'number' || !Number.isFinite(maxCostUsd) || maxCostUsd <= 0)) throw new InvalidOptionError('budget.maxCostUsd', 'a number > 0', maxCostUsd)
  return { ...budget }
}
