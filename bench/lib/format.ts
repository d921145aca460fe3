/** Numbers and tables for the console and RESULTS.md. @module */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Mean of a non-empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of an empty list')
  let sum = 0
  for (const v of values) sum += v
  return sum / values.length
}

/** `1234567` → `1,234,567`. */
export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

/** Milliseconds with sensible precision: `0.42 ms`, `12.3 ms`, `1,234 ms`. */
export function ms(value: number): string {
  if (value < 10) return `${value.toFixed(2)} ms`
  if (value < 100) return `${value.toFixed(1)} ms`
  return `${int(value)} ms`
}

/** KiB → `123.4 MiB`. */
export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`
}

/** A ratio: `3.21×`, `1,234×`. */
export function times(value: number): string {
  if (!Number.isFinite(value)) return '—'
  if (value >= 100) return `${int(value)}×`
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`
}

/** Percent with two decimals. */
export function pct(value: number): string {
  return `${value.toFixed(2)}%`
}

/** A GitHub-flavoured markdown table (also readable as plain text in a terminal). */
export function markdownTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}
