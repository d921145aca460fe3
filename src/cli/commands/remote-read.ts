/**
 * `taskweave runs`, `show` and `cancel` with `--server URL`: the same commands, asking a
 * `taskweave serve` instead of opening a store. `show --follow` follows a run the server runs
 * until it ends (Ctrl-C detaches: the run goes on).
 * @module
 */
import { toMs } from '../../core/duration.js'
import { TaskweaveError } from '../../core/errors.js'
import type { ApiRun } from '../../server/views.js'
import { ApiClient } from '../api-client.js'
import { operatorName } from '../operator.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { followRemoteRun } from '../remote-report.js'
import { interruptedExitCode, onInterrupt } from '../signals.js'
import { terminalSafe } from '../terminal-text.js'
import { formatRunsTable } from './runs.js'

const STATUSES = ['running', 'succeeded', 'partial', 'failed', 'cancelled']

/** Where the server is and how to reach it. */
export interface ServerArgs {
  readonly server: string
  readonly token: string | undefined
  readonly timeoutMs: number
}

/** `runs --server`: the server's runs, newest first (those it runs, then its store's). */
export async function remoteRunsCommand(args: ServerArgs & { readonly status?: string; readonly workflow?: string; readonly since?: string; readonly limit?: number; readonly json: boolean }, io: CliIo, now = Date.now()): Promise<number> {
  if (args.status !== undefined && !STATUSES.includes(args.status)) throw new TaskweaveError('TW_INVALID_OPTION', `--status must be one of ${STATUSES.join(', ')}; received "${args.status}"`, { retryable: false })
  const since = args.since === undefined ? undefined : now - toMs('--since', args.since)
  const client = new ApiClient({ url: args.server, token: args.token, timeoutMs: args.timeoutMs })
  // The API filters by status and count; workflow and age are filtered here, so it is asked for its most.
  const filtered = args.workflow !== undefined || since !== undefined
  const listed = await client.runs({ ...(args.status !== undefined ? { status: args.status } : {}), limit: filtered ? 1000 : (args.limit ?? 50) })
  const runs = listed.filter((run) => (args.workflow === undefined || run.workflowId === args.workflow) && (since === undefined || run.createdAt >= since)).slice(0, args.limit ?? 50)
  if (args.json) {
    io.stdout(JSON.stringify(runs, null, 2))
    return EXIT.ok
  }
  if (runs.length === 0) {
    io.stdout(`no runs on ${client.url}${args.status !== undefined || filtered ? ' match' : ''}`)
    return EXIT.ok
  }
  io.stdout(formatRunsTable(runs.map((run) => ({ ...run, runId: run.id })), now))
  return EXIT.ok
}

/** `show --server`: one run with its tasks; with `follow`, followed until it ends. */
export async function remoteShowCommand(args: ServerArgs & { readonly runId: string; readonly json: boolean; readonly follow: boolean; readonly quiet: boolean; readonly verbose: boolean }, io: CliIo): Promise<number> {
  const client = new ApiClient({ url: args.server, token: args.token, timeoutMs: args.timeoutMs })
  if (args.follow) {
    const detach = new AbortController()
    let interruptedBy: NodeJS.Signals | undefined
    const stopListening = onInterrupt((signal) => {
      interruptedBy = signal
      detach.abort()
    })
    try {
      const outcome = await followRemoteRun(client, args.runId, args, io, detach.signal)
      if (!outcome.detached) return outcome.code
      io.stderr(`detached from run ${args.runId}; it goes on on ${client.url}`)
      return interruptedExitCode(interruptedBy ?? 'SIGINT')
    } finally {
      stopListening()
    }
  }
  const run = await client.run(args.runId)
  if (args.json) {
    io.stdout(JSON.stringify(run, null, 2))
    return EXIT.ok
  }
  io.stdout(terminalSafe(formatRunView(run), { multiline: true }))
  return EXIT.ok
}

/** `cancel --server`: cancels a run the server runs, or ends an unfinished one in its store. */
export async function remoteCancelCommand(args: ServerArgs & { readonly runId: string; readonly reason?: string; readonly json: boolean }, io: CliIo): Promise<number> {
  const client = new ApiClient({ url: args.server, token: args.token, timeoutMs: args.timeoutMs })
  let answer: { readonly status: string }
  try {
    answer = await client.cancel(args.runId, args.reason ?? 'cancelled from the command line')
  } catch (error) {
    // A run that has finished (or is not the server's to cancel): as `taskweave cancel` here, exit 1.
    if (TaskweaveError.is(error) && error.code === 'TW_API' && (error.details as { status?: unknown; notApi?: unknown } | undefined)?.status === 409 && (error.details as { notApi?: unknown }).notApi !== true) {
      throw new TaskweaveError('TW_INVALID_STATE', error.message, { retryable: false })
    }
    throw error
  }
  if (args.json) io.stdout(JSON.stringify({ id: args.runId, status: answer.status }))
  else io.stdout(terminalSafe(answer.status === 'cancelling' ? `run ${args.runId} is being cancelled on ${client.url}` : `run ${args.runId} is ${answer.status}`))
  return EXIT.ok
}

/**
 * `retry --server`: the server runs a run that ended failed again from where it failed, and the
 * command follows it to its end (as `show --follow`); Ctrl-C detaches, the run goes on there.
 */
export async function remoteRetryCommand(args: ServerArgs & { readonly runId: string; readonly tasks?: readonly string[]; readonly by?: string; readonly json: boolean; readonly quiet: boolean; readonly verbose: boolean }, io: CliIo): Promise<number> {
  const client = new ApiClient({ url: args.server, token: args.token, timeoutMs: args.timeoutMs })
  try {
    await client.retry(args.runId, { ...(args.tasks !== undefined ? { tasks: args.tasks } : {}), by: args.by ?? operatorName() })
  } catch (error) {
    // A run that cannot be retried (running, succeeded, a task that did not fail): exit 1, as here.
    if (TaskweaveError.is(error) && error.code === 'TW_API' && (error.details as { status?: unknown; notApi?: unknown } | undefined)?.status === 409 && (error.details as { notApi?: unknown }).notApi !== true) {
      throw new TaskweaveError('TW_INVALID_STATE', error.message, { retryable: false })
    }
    throw error
  }
  if (!args.quiet) io.stderr(terminalSafe(`retrying run ${args.runId} on ${client.url}`))
  return await remoteShowCommand({ ...args, follow: true }, io)
}

/** A run and its tasks as `show` prints them. */
function formatRunView(run: ApiRun): string {
  const lines = [
    `run ${run.id} of ${run.workflowId}: ${run.status}${run.live ? ' (running on the server now)' : ''}`,
    `  started ${new Date(run.createdAt).toISOString()}${run.finishedAt !== undefined ? `, finished ${new Date(run.finishedAt).toISOString()} (${((run.finishedAt - run.createdAt) / 1000).toFixed(1)}s)` : ''}`,
    `  ${run.tasks.length} tasks; ${Object.entries(run.counts).map(([status, n]) => `${n} ${status}`).join(', ') || 'none finished'}`,
    ...(run.reason !== undefined ? [`  ${run.reason}`] : []),
    '',
  ]
  for (const task of run.tasks) {
    const detail = task.error !== undefined ? `${task.error.code} ${task.error.message}` : (task.reason ?? '')
    lines.push(`  ${task.status.padEnd(9)} ${task.id} (${task.attempts} attempt${task.attempts === 1 ? '' : 's'})${detail !== '' ? `: ${detail.length > 120 ? `${detail.slice(0, 117)}…` : detail}` : ''}`)
  }
  return lines.join('\n')
}
