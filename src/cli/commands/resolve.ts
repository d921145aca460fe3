/**
 * `taskweave resolve <runId> <taskId> --succeeded [--output JSON] | --failed [--reason TEXT] |
 * --retry [--reason TEXT]`: records what happened to a parked task (`onUncertain: park`), whose
 * attempt's outcome a resume could not know, after a person has checked (the payment provider's
 * dashboard, the mailbox). The run stays unfinished; `taskweave resume` then goes on from the
 * decision. No tool module is loaded and no task runs.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { TaskweaveError } from '../../core/errors.js'
import { systemClock } from '../../core/clock.js'
import { randomId } from '../../core/uuid.js'
import { resolveParkedTask } from '../../engine/resolve-parked.js'
import type { ParkedDecision } from '../../engine/resolve-parked.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { openStoreOfRun, parseStoreSpec } from '../open-store.js'
import { loadCliConfig } from '../config.js'
import { cliLogger } from '../cli-logger.js'

/**
 * The largest `--output` taken: the operator's own data, so beyond a tool's usual limit (the CLI
 * knows no tool's), but not without bound, since every resume reads it back.
 */
const CLI_MAX_OUTPUT_BYTES = 64 * 1024 * 1024

/** Parsed arguments of `resolve`. */
export interface ResolveCommandArgs {
  readonly runId: string
  readonly taskId: string
  /** Which of `--succeeded`, `--failed`, `--retry` was given. */
  readonly outcome: ParkedDecision['outcome']
  /** `--output`: the output's JSON text, or `@file` to read it from a file (only with `--succeeded`). */
  readonly output?: string
  /** `--reason`: why, in the operator's words (with `--failed` or `--retry`). */
  readonly reason?: string
  readonly store?: string
  /** A config file (`--config`, else `TASKWEAVE_CONFIG`): its `store` applies when `--store` is not given. */
  readonly config?: string
  readonly json: boolean
}

/** Runs the command; resolves to the exit code. */
export async function resolveCommand(args: ResolveCommandArgs, io: CliIo): Promise<number> {
  const decision = await decisionOf(args)
  const store = await openStoreOfRun(parseStoreSpec(args.store ?? (await loadCliConfig(args.config)).store, process.cwd()), args.runId)
  try {
    if ((await store.load(args.runId)) === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `no run "${args.runId}" in ${store.location} (taskweave runs lists them)`, { retryable: false })
    const resolution = await resolveParkedTask({ store, clock: systemClock, owner: `cli:${process.pid}:${randomId().slice(0, 8)}`, leaseTtlMs: 30_000, maxOutputBytes: () => CLI_MAX_OUTPUT_BYTES, logger: cliLogger(io) }, args.runId, args.taskId, decision)
    if (args.json) io.stdout(JSON.stringify(resolution, null, 2))
    else io.stdout(`recorded: task ${resolution.taskId} of run ${resolution.runId}, attempt ${resolution.attempt}, ${resolution.outcome === 'retry' ? 'runs again' : resolution.outcome}; continue the run with: taskweave resume ${resolution.runId}`)
    return EXIT.ok
  } finally {
    await store.close()
  }
}

/** The decision the flags describe; `--output` is read as JSON (from a file with `@file`). */
async function decisionOf(args: ResolveCommandArgs): Promise<ParkedDecision> {
  if (args.outcome !== 'succeeded') {
    if (args.output !== undefined) throw invalid(`--output goes with --succeeded (a ${args.outcome === 'failed' ? 'failed' : 'retried'} attempt has no output)`)
    return { outcome: args.outcome, ...(args.reason !== undefined ? { reason: args.reason } : {}) }
  }
  if (args.reason !== undefined) throw invalid('--reason goes with --failed or --retry; a success says what it produced with --output')
  if (args.output === undefined) return { outcome: 'succeeded' }
  const fromFile = args.output.startsWith('@')
  let text = args.output
  if (fromFile) {
    try {
      text = await readFile(args.output.slice(1), 'utf8')
    } catch (err) {
      throw invalid(`--output ${args.output}: cannot read ${args.output.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
  }
  try {
    return { outcome: 'succeeded', output: JSON.parse(text) as unknown }
  } catch (err) {
    throw invalid(`--output${fromFile ? ` ${args.output}` : ''} is not JSON (${err instanceof Error ? err.message : String(err)}); a string output is written with its quotes: --output '"ch_123"'`)
  }
}

function invalid(message: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', message, { retryable: false })
}
