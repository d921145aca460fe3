/** The summary printed when a run ends. @module */
import pc from 'picocolors'
import type { RunResult } from '../engine/report.js'
import { terminalSafe } from './terminal-text.js'

/**
 * Human-readable summary: status, counts, and each failure with its error and what it blocked.
 * Text from the run is passed through {@link terminalSafe}: it may hold terminal escapes.
 */
export function formatSummary(result: RunResult, options: { readonly outputs?: readonly string[]; readonly suspended?: boolean } = {}): string {
  if (options.suspended === true) return suspendedSummary(result)
  const colour = result.status === 'succeeded' ? pc.green : result.status === 'partial' ? pc.yellow : pc.red
  const counts = Object.entries(result.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ')
  const lines = [`${colour(pc.bold(`run ${result.status}`))} in ${(result.durationMs / 1000).toFixed(2)}s: ${counts}${result.reason ? ` (${terminalSafe(result.reason)})` : ''}`]
  for (const id of result.failed) {
    const task = result.tasks[id]
    if (task === undefined) continue
    const error = terminalSafe(`${task.error?.code ?? ''} ${task.error?.message ?? ''}`)
    lines.push(`  ${pc.red('✖')} ${terminalSafe(id)} (${terminalSafe(task.tool)}, ${task.attempts} attempt${task.attempts === 1 ? '' : 's'}): ${error}`)
    if (task.blocked && task.blocked.length > 0) lines.push(pc.dim(`      blocked: ${terminalSafe(task.blocked.join(', '))}`))
  }
  for (const id of options.outputs ?? []) {
    const task = result.tasks[id]
    if (task?.output === undefined) continue
    const text = typeof task.output === 'string' ? task.output : JSON.stringify(task.output, null, 2)
    lines.push('', pc.bold(`${terminalSafe(id)}:`), terminalSafe(text, { multiline: true }))
  }
  return lines.join('\n')
}

/**
 * A run stopped before it finished and kept for a resume (Ctrl-C with a store): its tasks are not
 * cancelled for good (the report calls them so), the resume runs them; the reason is the CLI's.
 */
function suspendedSummary(result: RunResult): string {
  const done = result.counts.succeeded
  const left = Object.values(result.counts).reduce((sum, n) => sum + n, 0) - done - result.counts.failed - result.counts.skipped
  const parts = [`${done} succeeded`, ...(result.counts.failed > 0 ? [`${result.counts.failed} failed`] : []), `${left} left for the resume`]
  return `${pc.yellow(pc.bold('run stopped'))} after ${(result.durationMs / 1000).toFixed(2)}s, resumable: ${parts.join(', ')}`
}
