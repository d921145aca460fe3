/** Opening the run store a listing command reads (`runs`, `retry --failed`). @module */
import type { RunStore } from '../core/store.js'
import { loadCliConfig } from './config.js'
import type { CliIo } from './io.js'
import { noStoreAt, openExistingStore, parseStoreSpec } from './open-store.js'

/**
 * The store `--store` (else the config's `store`) names, when one exists there; undefined, having
 * said there are no runs (`[]` with `--json`), when none does: a listing creates no store.
 */
export async function openStoreToList(args: { readonly store?: string; readonly config?: string; readonly json: boolean }, io: CliIo): Promise<RunStore | undefined> {
  const spec = parseStoreSpec(args.store ?? (await loadCliConfig(args.config)).store, process.cwd())
  const store = await openExistingStore(spec)
  if (store === undefined) io.stdout(args.json ? '[]' : `no runs: ${noStoreAt(spec)}`)
  return store
}
