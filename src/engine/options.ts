/**
 * Checks of engine and run options that are not a single value's range: names nobody declared
 * (a typo, or a feature of another library such as `rateLimits` or `checkpoint`) are refused with
 * the close matches, rather than silently ignored; group caps are checked per group.
 * @module
 */
import { InvalidOptionError } from '../core/errors.js'
import { optionNames, refuseUnknownOptions } from '../core/known-options.js'
import { AGENT_POOL_OPTION_NAMES } from '../agents/options.js'
import { EXECUTOR_OPTION_NAMES } from '../background/options.js'
import type { LoadScalerOptions } from '../scheduler/load-scaler.js'
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

/** What `autoscale` takes: the scaler's options but those the engine sets itself. */
export type AutoscaleOptions = Omit<LoadScalerOptions, 'target' | 'max' | 'clock' | 'onChange' | 'logger'>

const AUTOSCALE_OPTION_NAMES = optionNames<AutoscaleOptions>()(['min', 'maxEventLoopLagMs', 'maxRssBytes', 'intervalMs', 'healthyIntervalsBeforeRaise', 'decreaseFactor', 'increaseStep', 'probe'])
/** What the engine sets in the agent pool and the background executor itself. */
const SET_BY_ENGINE = new Set(['agents', 'engine', 'clock', 'limiter'])
const AGENT_POOL_NAMES = AGENT_POOL_OPTION_NAMES.filter((name) => !SET_BY_ENGINE.has(name))
const BACKGROUND_NAMES = EXECUTOR_OPTION_NAMES.filter((name) => !SET_BY_ENGINE.has(name))

/**
 * Refuses names the engine's groups of options do not know, as the caller wrote them
 * (`agentPool.maxInstance`, `background.finishedTTL`, `autoscale.maxLag`): inside a group a typo
 * is as silent as at the top.
 */
export function refuseUnknownGroupOptions(options: { readonly agentPool?: object; readonly background?: object; readonly autoscale?: boolean | object }): void {
  const groups: readonly [string, unknown, readonly string[]][] = [
    ['agentPool', options.agentPool, AGENT_POOL_NAMES],
    ['background', options.background, BACKGROUND_NAMES],
    ['autoscale', typeof options.autoscale === 'boolean' ? undefined : options.autoscale, AUTOSCALE_OPTION_NAMES],
  ]
  for (const [name, group, known] of groups) {
    if (group === undefined) continue
    if (typeof group !== 'object' || group === null) throw new InvalidOptionError(name, name === 'autoscale' ? 'a boolean or an object of options' : 'an object of options', group)
    refuseUnknownOptions('createEngine', group, known, `${name}.`)
  }
}

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
