/**
 * `taskweave prune --older-than 7d`: removes finished runs (and their journals) that ended longer
 * ago than that. Unfinished runs are never removed.
 * @module
 */
import { toMs } from '../../core/duration.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { noStoreAt, openExistingStore, parseStoreSpec } from '../open-store.js'
import { loadCliConfig } from '../config.js'

/** Parsed arguments of `prune`. */
export interface PruneCommandArgs {
  /** A config file (`--config`, else `TASKWEAVE_CONFIG`): its `store` applies when `--store` is not given. */
  readonly config?: string
  readonly olderThan: string
  readonly store?: string
}

/** Runs the command; resolves to the exit code. */
export async function pruneCommand(args: PruneCommandArgs, io: CliIo, now = Date.now()): Promise<number> {
  const finishedBefore = now - toMs('--older-than', args.olderThan)
  const spec = parseStoreSpec(args.store ?? (await loadCliConfig(args.config)).store, process.cwd())
  const store = await openExistingStore(spec)
  if (store === undefined) {
    io.stdout(`nothing to prune: ${noStoreAt(spec)}`)
    return EXIT.ok
  }
  try {
    const removed = await store.prune({ finishedBefore })
    io.stdout(`removed ${removed} run${removed === 1 ? '' : 's'} finished before ${new Date(finishedBefore).toISOString()} from ${store.location}`)
    return EXIT.ok
  } finally {
    await store.close()
  }
}
