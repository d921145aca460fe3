/**
 * `taskweave show <runId>`: one stored run: its status, definition hash, times, counts, and each
 * task's outcome as the journal has it (attempts, output, error). No tool module is loaded.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { StoredRun } from '../../core/store.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { openStoreOfRun, parseStoreSpec } from '../open-store.js'
import { terminalSafe } from '../terminal-text.js'
import { loadCliConfig } from '../config.js'
import { isStopped, summaryJson } from './runs.js'
import { resolveHint } from '../../engine/resolve-parked.js'
import { journaledTasks } from '../../engine/journaled-tasks.js'

/** Parsed arguments of `show`. */
export interface ShowCommandArgs {
  /** A config file (`--config`, else `TASKWEAVE_CONFIG`): its `store` applies when `--store` is not given. */
  readonly config?: string
  readonly runId: string
  readonly store?: string
  readonly json: boolean
}

/** Runs the command; resolves to the exit code. */
export async function showCommand(args: ShowCommandArgs, io: CliIo): Promise<number> {
  const store = await openStoreOfRun(parseStoreSpec(args.store ?? (await loadCliConfig(args.config)).store, process.cwd()), args.runId)
  try {
    const run = await store.load(args.runId)
    if (run === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `no run "${args.runId}" in ${store.location} (taskweave runs lists them)`, { retryable: false })
    const tasks = journaledTasks(run)
    const { entries: _entries, definition: _definition, settings: _settings, ...summary } = run
    if (args.json) {
      const retries = retriesOf(run)
      io.stdout(JSON.stringify({ ...summaryJson(summary), inputs: JSON.parse(run.inputs) as unknown, ...(retries.length > 0 ? { retries: retries.map((retry) => ({ ...retry, at: new Date(retry.at).toISOString() })) } : {}), tasks: Object.fromEntries(tasks.map((task) => [task.id, task])) }, null, 2))
      return EXIT.ok
    }
    const definedTasks = (JSON.parse(run.definition) as { tasks?: unknown[] }).tasks?.length ?? 0
    const lines = [
      `run ${run.runId} of ${run.workflowId}: ${isStopped(run, (await store.now?.()) ?? Date.now(), store.exclusive) ? `stopped, nobody runs it (taskweave resume ${run.runId} goes on with it)` : run.status}`,
      `  definition sha256 ${run.workflowHash}`,
      `  started ${new Date(run.createdAt).toISOString()}${run.finishedAt !== undefined ? `, finished ${new Date(run.finishedAt).toISOString()} (${((run.finishedAt - run.createdAt) / 1000).toFixed(1)}s)` : ''}`,
      `  ${definedTasks} tasks defined; ${Object.entries(run.counts).map(([status, n]) => `${n} ${status}`).join(', ') || 'not finished'}`,
      ...Object.entries(run.labels).filter(([key]) => key === 'source').map(([, value]) => `  from ${value}`),
      ...retriesOf(run).map((retry) => `  retried by ${retry.by} at ${new Date(retry.at).toISOString()}${retry.tasks.length > 0 ? ` (${retry.tasks.join(', ')})` : ''}`),
      ...stopReason(run),
      '',
    ]
    for (const task of tasks) {
      const detail = task.parkedBecause ?? (task.error !== undefined ? `${task.error.code} ${task.error.message}` : task.output !== undefined ? JSON.stringify(task.output) : '')
      lines.push(`  ${task.status.padEnd(9)} ${task.id} (${task.attempts} attempt${task.attempts === 1 ? '' : 's'})${detail !== '' ? `: ${detail.length > 120 && task.parkedBecause === undefined ? `${detail.slice(0, 117)}…` : detail}` : ''}`)
    }
    const parked = run.status === 'running' ? tasks.filter((task) => task.status === 'parked') : []
    if (parked.length > 0) lines.push('', `  parked: ${parked.map((task) => task.id).join(', ')} wait${parked.length === 1 ? 's' : ''} for you to record what happened, then resume:`, ...parked.map((task) => `    ${resolveHint(run.runId, task.id)}`), `    taskweave resume ${run.runId}`)
    io.stdout(terminalSafe(lines.join('\n'), { multiline: true }))
    return EXIT.ok
  } finally {
    await store.close()
  }
}

/** The operators' retries of the run (`taskweave retry`), oldest first: who, when, which tasks. */
function retriesOf(run: StoredRun): { by: string; at: number; tasks: string[] }[] {
  return run.entries
    .filter((entry) => entry.kind === 'reopen')
    .map((entry) => {
      const data = JSON.parse(entry.data ?? '{}') as { by?: unknown; tasks?: { taskId?: unknown }[] }
      return { by: typeof data.by === 'string' ? data.by : 'unknown', at: entry.at, tasks: (data.tasks ?? []).map((task) => String(task.taskId)) }
    })
}

/** The line saying why the run was stopped (a cancel, failFast, `taskweave cancel`), when it was and no retry came after. */
function stopReason(run: StoredRun): string[] {
  const stop = run.entries.findLast((entry) => entry.kind === 'stop' || entry.kind === 'reopen')
  if (stop === undefined || stop.kind === 'reopen') return []
  const reason = (JSON.parse(stop.data ?? '{}') as { reason?: unknown }).reason
  return typeof reason === 'string' ? [`  stopped: ${reason}`] : []
}
