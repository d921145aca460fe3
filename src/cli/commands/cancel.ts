/**
 * `taskweave cancel <runId> [--reason TEXT]`: ends a stored run that did not finish, without
 * running anything: one a crash or Ctrl-C left that nobody wants resumed, or a parked one given
 * up. Its tasks keep what the journal says of them; the store marks it `cancelled`, so `resume`
 * and `resumeOnStart` leave it and `prune` may remove it. No tool module is loaded.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import { systemClock } from '../../core/clock.js'
import { randomId } from '../../core/uuid.js'
import { cancelStoredRun } from '../../engine/cancel-stored.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { openStoreOfRun, parseStoreSpec } from '../open-store.js'
import { loadCliConfig } from '../config.js'

/** Parsed arguments of `cancel`. */
export interface CancelCommandArgs {
  readonly runId: string
  /** `--reason`: kept with the run. */
  readonly reason?: string
  readonly store?: string
  /** A config file (`--config`, else `TASKWEAVE_CONFIG`): its `store` applies when `--store` is not given. */
  readonly config?: string
  readonly json: boolean
}

/** Runs the command; resolves to the exit code. */
export async function cancelCommand(args: CancelCommandArgs, io: CliIo): Promise<number> {
  const store = await openStoreOfRun(parseStoreSpec(args.store ?? (await loadCliConfig(args.config)).store, process.cwd()), args.runId)
  try {
    if ((await store.load(args.runId)) === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `no run "${args.runId}" in ${store.location} (taskweave runs lists them)`, { retryable: false })
    const cancelled = await cancelStoredRun({ store, clock: systemClock, owner: `cli:${process.pid}:${randomId().slice(0, 8)}`, leaseTtlMs: 30_000 }, args.runId, args.reason !== undefined ? { reason: args.reason } : {})
    if (args.json) io.stdout(JSON.stringify(cancelled, null, 2))
    else io.stdout(`cancelled run ${cancelled.runId}: ${Object.entries(cancelled.counts).map(([status, n]) => `${n} ${status}`).join(', ') || 'no tasks'}`)
    return EXIT.ok
  } finally {
    await store.close()
  }
}
