/** What each benchmark hands to `run-all.ts`, and how it is printed. @module */
import { markdownTable } from './format.js'

/** One target of the issue, checked against a figure measured in this run. */
export interface TargetCheck {
  /** What is compared, e.g. `taskweave tasks/s ÷ p-queue tasks/s`. */
  readonly what: string
  /** The target as written, e.g. `≥ 2×`. */
  readonly target: string
  /** The measured figure, e.g. `2.41×`. */
  readonly measured: string
  readonly pass: boolean
}

/** A finished benchmark. */
export interface BenchReport {
  /** File name without `.ts`: `noop`, `layered`… */
  readonly name: string
  readonly title: string
  /** One sentence on the workload. */
  readonly workload: string
  readonly headers: readonly string[]
  readonly rows: readonly (readonly string[])[]
  readonly targets: readonly TargetCheck[]
  /** How it was measured, and every deviation (scaled-down peers, what the timing includes). */
  readonly notes: readonly string[]
  /** Wall time of the whole benchmark, in s. */
  readonly seconds: number
}

/** A benchmark module as `run-all.ts` sees it. */
export interface BenchModule {
  run(): Promise<BenchReport>
}

/** Markdown section of one benchmark (also what a standalone run prints). */
export function renderReport(report: BenchReport): string {
  const parts = [`## ${report.title}`, '', report.workload, '', markdownTable(report.headers, report.rows), '']
  if (report.targets.length > 0) {
    parts.push(markdownTable(['target', 'goal', 'measured', 'result'], report.targets.map((t) => [t.what, t.target, t.measured, t.pass ? 'PASS' : 'MISS'])), '')
  }
  for (const note of report.notes) parts.push(`- ${note}`)
  parts.push('', `_Benchmark wall time: ${report.seconds.toFixed(1)} s._`, '')
  return parts.join('\n')
}
