/**
 * Durations: a number of milliseconds or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`,
 * `'1.5s'`; a string without a unit (`'5000'`, what a command-line flag gives) is milliseconds.
 * @module
 */
import { InvalidOptionError } from './errors.js'

/** A duration in milliseconds, or a string with a unit (`ms`, `s`, `m`, `h`, `d`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/

/** Parses a duration; returns undefined when the text is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = PATTERN.exec(value)
  if (!match) return undefined
  return Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1)
}

/** Parses a duration option or throws `TW_INVALID_OPTION` naming the option. */
export function toMs(option: string, value: unknown): number {
  const ms = parseDuration(value)
  if (ms === undefined) throw new InvalidOptionError(option, "a duration (ms, or a string like '30s')", value)
  return ms
}

/**
 * {@link toMs} for a time limit: 0 is refused too, since a limit of 0 would end every attempt the
 * moment it starts (leaving the option out is how to say "no limit").
 */
export function toLimitMs(option: string, value: unknown): number {
  const ms = toMs(option, value)
  if (ms === 0) throw new InvalidOptionError(option, 'a duration above 0 (leave it out for no limit): a limit of 0 would end every task at once', value)
  return ms
}
