/**
 * `taskweave retry --failed [--workflow ID] [--since 1d] [--limit N]`: the store's runs that ended
 * failed or partial run again from where they failed, oldest first, one after the other (each as
 * `taskweave retry <runId>` runs it: its own tool modules and settings), then a summary. The
 * redrive of a batch of dead runs once the service they needed is back.
 * @module
 */
import { toMs } from '../../core/duration.js'
import type { RunSummary } from '../../core/store.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { openStoreToList } from '../stored-runs.js'
import { operatorName } from '../operator.js'
import { terminalSafe } from '../terminal-text.js'
import { resumeCommand } from './resume.js'
import type { ResumeCommandArgs } from './resume.js'

/** Parsed arguments of `retry --failed`. */
export interface RetryManyArgs extends Omit<ResumeCommandArgs, 'runId' | 'retry'> {
  readonly workflow?: string
  /** Only runs created this recently (`1d`, `2h`). */
  readonly since?: string
  /** At most this many runs. @default 50 */
  readonly limit?: number
  readonly by?: string
}

/** Runs the command; resolves to the exit code (0 when every run retried succeeded). */
export async function retryManyCommand(args: RetryManyArgs, io: CliIo, now = Date.now()): Promise<number> {
  const since = args.since === undefined ? undefined : now - toMs('--since', args.since)
  const store = await openStoreToList(args, io)
  if (store === undefined) return EXIT.ok
  let runs: readonly RunSummary[]
  try {
    // The oldest `limit` of them (the store lists newest first): a redrive takes the queue's head.
    const all = await store.list({ status: ['failed', 'partial'], ...(args.workflow !== undefined ? { workflowId: args.workflow } : {}), ...(since !== undefined ? { since } : {}), limit: Infinity })
    runs = all.slice(Math.max(0, all.length - (args.limit ?? 50)))
  } finally {
    // Each retry opens the store itself (a SQLite file has one owner at a time).
    await store.close()
  }
  if (runs.length === 0) {
    io.stdout(args.json ? '[]' : 'no runs ended failed or partial that match')
    return EXIT.ok
  }
  const by = args.by ?? operatorName()
  // With --json, stdout carries the list alone: what each run prints goes to stderr.
  const runIo: CliIo = args.json ? { ...io, stdout: (text) => io.stderr(text), isTTY: false } : io
  const outcomes: { readonly runId: string; readonly code: number }[] = []
  // Oldest first: the order they failed in, as a dead-letter queue is redriven.
  for (const run of [...runs].reverse()) {
    if (!args.quiet && !args.json) io.stderr(terminalSafe(`retry ${outcomes.length + 1} of ${runs.length}: run ${run.runId} of ${run.workflowId}`))
    let code: number
    try {
      code = await resumeCommand({ ...args, runId: run.runId, json: false, retry: { by } }, runIo)
    } catch (err) {
      // One run that cannot be retried here (a tool module gone, another process holding it) does
      // not stop the others: it is named in the summary.
      io.stderr(terminalSafe(`run ${run.runId} was not retried: ${err instanceof Error ? err.message : String(err)}`))
      code = EXIT.failed
    }
    outcomes.push({ runId: run.runId, code })
  }
  const succeeded = outcomes.filter((outcome) => outcome.code === EXIT.ok)
  const others = outcomes.filter((outcome) => outcome.code !== EXIT.ok)
  if (args.json) io.stdout(JSON.stringify(outcomes.map((outcome) => ({ runId: outcome.runId, succeeded: outcome.code === EXIT.ok, exitCode: outcome.code }))))
  else io.stdout(terminalSafe(`retried ${outcomes.length} run${outcomes.length === 1 ? '' : 's'}: ${succeeded.length} succeeded${others.length > 0 ? `, ${others.length} did not (${others.map((outcome) => outcome.runId).join(', ')})` : ''}`))
  return others.length === 0 ? EXIT.ok : EXIT.failed
}
