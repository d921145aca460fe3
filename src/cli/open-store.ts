/**
 * The CLI's run store: `--store`, else `TASKWEAVE_STORE`, else the SQLite file
 * `./.taskweave/runs.db`. A store's driver loads only when that store is used.
 *
 * - `memory`: nothing is kept (the run cannot be resumed by another process);
 * - `sqlite:PATH` or a path ending in `.db`/`.sqlite`: a SQLite file (created if missing);
 * - `postgres://…` / `postgresql://…`: a PostgreSQL database.
 * @module
 */
import { resolve } from 'node:path'
import { TaskweaveError } from '../core/errors.js'
import type { RunStore } from '../core/store.js'
import { MemoryRunStore } from '../stores/memory.js'

/** The store the CLI uses when none is named. */
export const DEFAULT_STORE = 'sqlite:.taskweave/runs.db'

/** Which store a spec names, and where. */
export type StoreSpec = { readonly kind: 'memory' } | { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string }

/** Reads a store spec (`--store`, `TASKWEAVE_STORE`); throws `TW_INVALID_OPTION` naming it when it is none of the forms. */
export function parseStoreSpec(spec: string | undefined, cwd: string, env: NodeJS.ProcessEnv = process.env): StoreSpec {
  const text = spec ?? (env['TASKWEAVE_STORE'] !== undefined && env['TASKWEAVE_STORE'] !== '' ? env['TASKWEAVE_STORE'] : DEFAULT_STORE)
  if (text === 'memory') return { kind: 'memory' }
  if (text.startsWith('postgres://') || text.startsWith('postgresql://')) return { kind: 'postgres', url: text }
  if (text.startsWith('sqlite:')) {
    const path = text.slice('sqlite:'.length)
    if (path === '') throw storeError(text)
    return { kind: 'sqlite', path: resolve(cwd, path) }
  }
  if (/\.(db|sqlite3?)$/i.test(text)) return { kind: 'sqlite', path: resolve(cwd, text) }
  throw storeError(text)
}

/** Opens the store a spec names. */
export async function openStore(spec: StoreSpec, signal?: AbortSignal): Promise<RunStore> {
  switch (spec.kind) {
    case 'memory':
      return new MemoryRunStore()
    case 'sqlite': {
      const { openSqliteStore } = await import('../stores/sqlite/index.js')
      return openSqliteStore({ path: spec.path, ...(signal !== undefined ? { signal } : {}) })
    }
    case 'postgres': {
      const { openPostgresStore } = await import('../stores/postgres/index.js')
      return openPostgresStore({ connectionString: spec.url, ...(signal !== undefined ? { signal } : {}) })
    }
  }
}

function storeError(text: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', `--store (or TASKWEAVE_STORE) must be memory, sqlite:PATH or postgres://…; received "${text}"`, { retryable: false })
}
