/**
 * Shows a run on a server as `taskweave run` shows a local one: its progress while it goes on (a
 * live table on a terminal, a compact log elsewhere, every event with `--verbose`), then its
 * summary (or the run as JSON with `--json`) and the exit code. Shared by `run --server` and
 * `show --server --follow`.
 * @module
 */
import pc from 'picocolors'
import { systemClock } from '../core/clock.js'
import type { ApiRun } from '../server/views.js'
import type { ApiClient } from './api-client.js'
import { createCompactView } from './compact-view.js'
import { EXIT } from './io.js'
import type { CliIo } from './io.js'
import { createLineView, createLiveView } from './progress.js'
import type { ProgressView } from './progress.js'
import { followRemoteEvents, readRunPatiently } from './remote-follow.js'
import { terminalSafe } from './terminal-text.js'

/** Most leaf tasks whose outputs the summary fetches and prints. */
const MAX_OUTPUTS_SHOWN = 20

/** How to show a run on a server. */
export interface RemoteFollowArgs {
  readonly json: boolean
  readonly quiet: boolean
  readonly verbose: boolean
  /** How long the server may not answer before following fails (ms). */
  readonly timeoutMs: number
}

/** How following a run on a server ended. */
export interface RemoteOutcome {
  readonly code: number
  /** Following stopped before the run ended (the run goes on). */
  readonly detached: boolean
}

/**
 * Follows run `runId` until it ends or `signal` is aborted (detached: the run goes on on the
 * server); resolves the exit code: 0 succeeded, 1 failed, partial or cancelled, 5 parked, 6 the
 * server does not run it (another process sharing its store does, or nobody does until a server
 * resumes it). `onEnded` is called once the run has ended, before its summary is read.
 */
export async function followRemoteRun(client: ApiClient, runId: string, args: RemoteFollowArgs, io: CliIo, signal: AbortSignal, onEnded?: () => void): Promise<RemoteOutcome> {
  let initial: ApiRun
  try {
    initial = await readRunPatiently(client, runId, signal, args.timeoutMs)
  } catch (error) {
    if (signal.aborted) return { code: EXIT.ok, detached: true }
    throw error
  }
  // Known, unfinished, and not run by this server: nothing to follow here.
  if (!initial.live && initial.status === 'running' && !initial.tasks.some((task) => task.status === 'parked')) return notFollowed(client, runId, io)
  let view: ProgressView | undefined
  if (!args.quiet) {
    const write = args.json ? (line: string) => io.stderr(line) : (line: string) => io.stdout(line)
    // Events carry the server's clock; shown against wall time (`wallAt`), which both sides share.
    view = io.isTTY && !args.json ? createLiveView(io.stdoutStream, initial.tasks.map((task) => task.id), Date.now) : args.verbose ? createLineView(write) : createCompactView(write, systemClock)
  }
  const sink = view
  let ended: Awaited<ReturnType<typeof followRemoteEvents>>
  try {
    // A run that finished a moment ago still streams what it kept, then its end.
    ended = await followRemoteEvents(client, runId, {
      signal,
      reconnectMs: args.timeoutMs,
      onEvent: (event) => sink?.handle({ ...event, at: event.wallAt }),
      onGap: () => {
        if (!args.quiet) io.stderr('(some events were missed: the server no longer kept them)')
      },
      onReconnecting: (why) => {
        if (!args.quiet) io.stderr(`lost the event stream of run ${runId} (${terminalSafe(why)}); reconnecting…`)
      },
    })
  } finally {
    view?.stop()
  }
  if (ended === 'detached') return { code: EXIT.ok, detached: true }
  onEnded?.()
  let final: ApiRun
  try {
    final = await readRunPatiently(client, runId, signal, args.timeoutMs, true)
  } catch (error) {
    if (signal.aborted) return { code: EXIT.ok, detached: true }
    throw error
  }
  if (args.json) io.stdout(JSON.stringify(final, null, 2))
  else io.stdout(await formatRemoteSummary(client, final, signal))
  const parked = final.tasks.filter((task) => task.status === 'parked')
  if (final.status === 'running' && parked.length > 0) {
    io.stderr(terminalSafe(`run ${runId} is parked: the outcome of ${parked.map((task) => task.id).join(', ')} is unknown. Record what happened with taskweave resolve on the server's store, then resume it there.`))
    return { code: EXIT.parked, detached: false }
  }
  if (final.status === 'running') return notFollowed(client, runId, io)
  return { code: final.status === 'succeeded' ? EXIT.ok : EXIT.failed, detached: false }
}

/** An unfinished run the server does not run: said so, exit 6 (it cannot be followed there). */
function notFollowed(client: ApiClient, runId: string, io: CliIo): RemoteOutcome {
  io.stderr(`run ${runId} is unfinished, but ${client.url} does not run it: another process sharing its store does, or nobody does until a server resumes it (taskweave serve --resume); it cannot be followed there`)
  return { code: EXIT.server, detached: false }
}

/**
 * The summary `run` prints at the end: status, time, counts, each failure, and the outputs of the
 * last tasks (read from the server; no more are read once `signal` is aborted).
 */
export async function formatRemoteSummary(client: ApiClient, run: ApiRun, signal?: AbortSignal): Promise<string> {
  const colour = run.status === 'succeeded' ? pc.green : run.status === 'partial' || run.status === 'running' ? pc.yellow : pc.red
  const counts = Object.entries(run.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ')
  const took = run.finishedAt !== undefined ? ` in ${((run.finishedAt - run.createdAt) / 1000).toFixed(2)}s` : ''
  const lines = [`${colour(pc.bold(`run ${terminalSafe(run.status)}`))}${took}: ${terminalSafe(counts)}${run.reason !== undefined ? ` (${terminalSafe(run.reason)})` : ''}`]
  for (const task of run.tasks) {
    if (task.status !== 'failed') continue
    const error = terminalSafe(`${task.error?.code ?? ''} ${task.error?.message ?? ''}`)
    lines.push(`  ${pc.red('✖')} ${terminalSafe(task.id)} (${terminalSafe(task.tool ?? '?')}, ${task.attempts} attempt${task.attempts === 1 ? '' : 's'}): ${error}`)
  }
  // The outputs of the declared tasks nothing depends on, as a local run prints them: not the
  // tasks added while it ran (by a tool, or a forEach's items, `owner[i]`: ids cannot hold "["),
  // whose owner's output gathers theirs.
  const parents = new Set(run.tasks.flatMap((task) => task.dependsOn))
  const leaves = run.tasks.filter((task) => task.status === 'succeeded' && !parents.has(task.id) && task.addedBy === undefined && !task.id.includes('['))
  if (leaves.length <= MAX_OUTPUTS_SHOWN) {
    for (const leaf of leaves) {
      if (signal?.aborted === true) break
      const output = await client.task(run.id, leaf.id, signal).then(
        (task) => task.output,
        () => undefined,
      )
      if (output === undefined) continue
      const text = typeof output === 'string' ? output : JSON.stringify(output, null, 2)
      lines.push('', pc.bold(`${terminalSafe(leaf.id)}:`), terminalSafe(text, { multiline: true }))
    }
  }
  return lines.join('\n')
}
