/**
 * The duration format of OpenAI's `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`
 * headers, which is Go's `time.Duration` text at millisecond resolution: `"20ms"`, `"1s"`,
 * `"1.5s"`, `"59.999s"`, `"6m0s"`, `"1h2m3.5s"`. Clients (and taskweave's own header parser)
 * read exactly this, so the fake writes it.
 * @module
 */
import { InvalidOptionError } from '../../core/errors.js'

/**
 * Formats `ms` the way OpenAI's reset headers do:
 * - 0 (or less) → `"0s"`;
 * - under a second → whole milliseconds, `"20ms"`;
 * - otherwise hours, minutes and seconds, largest first, each smaller unit shown once a larger
 *   one is (`"6m0s"`, `"1h0m0s"`), seconds with up to three decimals and no trailing zeros
 *   (`"1.5s"`, `"2m3.25s"`).
 *
 * The value is rounded *up* to a whole millisecond: a client that waits the advertised time must
 * find the bucket full, never a fraction short of it. Throws `TW_INVALID_OPTION` for `NaN` or
 * `Infinity`, which no bucket produces.
 */
export function formatResetDuration(ms: number): string {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms === Infinity) throw new InvalidOptionError('ms', 'a finite number of ms', ms)
  if (!(ms > 0)) return '0s'
  const whole = Math.ceil(ms)
  if (whole < 1000) return `${whole}ms`
  const hours = Math.floor(whole / 3_600_000)
  const minutes = Math.floor((whole % 3_600_000) / 60_000)
  const millis = whole % 60_000
  const seconds = `${Math.floor(millis / 1000)}${millis % 1000 === 0 ? '' : `.${String(millis % 1000).padStart(3, '0').replace(/0+$/, '')}`}s`
  if (hours > 0) return `${hours}h${minutes}m${seconds}`
  if (minutes > 0) return `${minutes}m${seconds}`
  return seconds
}
