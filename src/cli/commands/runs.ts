/**
 * `taskweave runs`: the runs in the CLI's store, newest first: id, workflow, status, start,
 * duration and task counts; filtered by status, workflow and age.
 * @module
 */
import { toMs } from '../../core/duration.js'
import type { RunStore, RunSummary, StoredRunStatus } from '../../core/store.js'
import { TaskweaveError } from '../../core/errors.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { openStoreToList } from '../stored-runs.js'
import { terminalSafe } from '../terminal-text.js'

const STATUSES: readonly StoredRunStatus[] = ['running', 'succeeded', 'partial', 'failed', 'cancelled']
/** Unfinished runs read to tell running from stopped ones before `--limit` applies. */
const UNFINISHED_READ = 100_000

/** What `--status` takes: a stored status, or `stopped` (the table's name for an unfinished run nobody runs). */
const STATUS_FILTERS: readonly string[] = [...STATUSES, 'stopped']

/** Parsed arguments of `runs`. */
export interface RunsCommandArgs {
  /** A config file (`--config`, else `TASKWEAVE_CONFIG`): its `store` applies when `--store` is not given. */
  readonly config?: string
  readonly store?: string
  readonly status?: string
  readonly workflow?: string
  /** Only runs started within this long (`1h`, `7d`). */
  readonly since?: string
  readonly limit?: number
  readonly json: boolean
}

/** Runs the command; resolves to the exit code. */
export async function runsCommand(args: RunsCommandArgs, io: CliIo, now = Date.now()): Promise<number> {
  if (args.status !== undefined && !STATUS_FILTERS.includes(args.status)) {
    throw new TaskweaveError('TW_INVALID_OPTION', `--status must be one of ${STATUS_FILTERS.join(', ')}; received "${args.status}"`, { retryable: false })
  }
  const since = args.since === undefined ? undefined : now - toMs('--since', args.since)
  const store = await openStoreToList(args, io)
  if (store === undefined) return EXIT.ok
  try {
    const leaseNow = (await store.now?.()) ?? now
    const runs = await listRuns(store, { ...(args.status !== undefined ? { status: args.status } : {}), ...(args.workflow !== undefined ? { workflowId: args.workflow } : {}), ...(since !== undefined ? { since } : {}), limit: args.limit ?? 50 }, leaseNow)
    if (args.json) {
      io.stdout(JSON.stringify(runs.map(summaryJson), null, 2))
      return EXIT.ok
    }
    if (runs.length === 0) {
      const filtered = args.status !== undefined || args.workflow !== undefined || since !== undefined
      io.stdout(filtered ? `no runs in ${store.location} match ${[args.status !== undefined ? `--status ${args.status}` : '', args.workflow !== undefined ? `--workflow ${args.workflow}` : '', args.since !== undefined ? `--since ${args.since}` : ''].filter((part) => part !== '').join(' ')}` : `no runs in ${store.location}`)
      return EXIT.ok
    }
    // Leases are by the store's clock (PostgreSQL's, by default), not this machine's.
    io.stdout(formatRunsTable(runs, now, leaseNow, store.exclusive))
    return EXIT.ok
  } finally {
    await store.close()
  }
}

/**
 * The runs `taskweave runs` lists: `status` is a stored one or `stopped`. `running` and `stopped`
 * are both unfinished in the store, told apart by their leases here, after the store's list: the
 * limit applies to what matches, so every unfinished run is read (few, next to the finished ones).
 */
export async function listRuns(store: RunStore, filter: { readonly status?: string; readonly workflowId?: string; readonly since?: number; readonly limit: number }, leaseNow: number): Promise<readonly RunSummary[]> {
  const stored = filter.status === 'stopped' ? 'running' : (filter.status as StoredRunStatus | undefined)
  const listed = await store.list({
    ...(stored !== undefined ? { status: stored } : {}),
    ...(filter.workflowId !== undefined ? { workflowId: filter.workflowId } : {}),
    ...(filter.since !== undefined ? { since: filter.since } : {}),
    limit: stored === 'running' ? UNFINISHED_READ : filter.limit,
  })
  if (stored !== 'running') return listed
  return listed.filter((run) => isStopped(run, leaseNow, store.exclusive) === (filter.status === 'stopped')).slice(0, filter.limit)
}

/** A run's summary as the JSON of `runs --json` and `show --json`: times as ISO text, as in the table. */
export function summaryJson<T extends RunSummary>(run: T): Omit<T, 'createdAt' | 'finishedAt' | 'lease'> & { createdAt: string; finishedAt: string | undefined; lease: (Omit<NonNullable<RunSummary['lease']>, 'expiresAt'> & { expiresAt: string }) | undefined } {
  const iso = (ms: number): string => new Date(ms).toISOString()
  return { ...run, createdAt: iso(run.createdAt), finishedAt: run.finishedAt === undefined ? undefined : iso(run.finishedAt), lease: run.lease === undefined ? undefined : { ...run.lease, expiresAt: iso(run.lease.expiresAt) } }
}

/** What a row of the runs table shows: a stored run's summary, or the API's. */
export interface RunRow {
  readonly runId: string
  readonly workflowId: string
  readonly status: string
  readonly createdAt: number
  readonly finishedAt?: number | undefined
  readonly counts: Readonly<Record<string, number>>
  /** An unfinished run's lease (a stored run's): expired, nobody runs it. */
  readonly lease?: { readonly expiresAt: number } | undefined
}

/**
 * Unfinished, and nobody runs it: stopped (Ctrl-C, a crash), waiting for a resume or a cancel.
 * Nobody holds its lease; or the store is `exclusive` (a SQLite file: one process at a time),
 * so the command that opened it is the only process there, whatever lease a killed one left.
 */
export function isStopped(run: Pick<RunRow, 'status' | 'lease'>, now: number, exclusive = false): boolean {
  return run.status === 'running' && (exclusive || (run.lease !== undefined && run.lease.expiresAt <= now))
}

/** The runs as an aligned table. */
export function formatRunsTable(runs: readonly RunRow[], now: number, leaseNow = now, exclusive = false): string {
  const rows = [['RUN', 'WORKFLOW', 'STATUS', 'STARTED', 'DURATION', 'TASKS']]
  for (const run of runs) {
    const ended = run.finishedAt ?? now
    const stopped = isStopped(run, leaseNow, exclusive)
    rows.push([
      run.runId,
      run.workflowId,
      stopped ? 'stopped' : run.status,
      new Date(run.createdAt).toISOString().replace('T', ' ').slice(0, 19),
      stopped ? '-' : `${formatSeconds(ended - run.createdAt)}${run.finishedAt === undefined ? '+' : ''}`,
      Object.entries(run.counts).map(([status, n]) => `${n} ${status}`).join(', '),
    ].map((cell) => terminalSafe(cell)))
  }
  const widths = rows[0]!.map((_cell, k) => Math.max(...rows.map((row) => row[k]!.length)))
  return rows.map((row) => row.map((cell, k) => cell.padEnd(widths[k]!)).join('  ').trimEnd()).join('\n')
}

function formatSeconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`
}
