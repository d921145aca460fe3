/**
 * The CLI's run store: `--store`, else `TASKWEAVE_STORE`, else the SQLite file
 * `./.taskweave/runs.db`. A store's driver loads only when that store is used.
 *
 * - `memory`: nothing is kept (the run cannot be resumed by another process);
 * - `sqlite:PATH` or a path ending in `.db`/`.sqlite`: a SQLite file (created if missing);
 * - `postgres://…` / `postgresql://…`: a PostgreSQL database.
 * @module
 */
import { existsSync } from 'node:fs'
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
  // A URL of another kind (a typo of sqlite:, mysql://…) is not a file name that happens to end in .db.
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(text)?.[1]
  if (scheme !== undefined) throw new TaskweaveError('TW_INVALID_OPTION', `--store (or TASKWEAVE_STORE) must be memory, sqlite:PATH or postgres://…; "${scheme}:" is not a store this CLI knows (received "${text}"; a file whose name holds a colon is written sqlite:./${text})`, { retryable: false })
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

/**
 * Opens the store of a command that reads or changes runs already made (`runs`, `show`, `cancel`,
 * `resume`…): a SQLite file that does not exist is not created for it. Undefined then, and
 * {@link noStoreAt} says why.
 */
export async function openExistingStore(spec: StoreSpec, signal?: AbortSignal): Promise<RunStore | undefined> {
  if (spec.kind === 'sqlite' && !existsSync(spec.path)) return undefined
  return openStore(spec, signal)
}

/** Why {@link openExistingStore} opened nothing. */
export function noStoreAt(spec: StoreSpec): string {
  const where = spec.kind === 'sqlite' ? spec.path : spec.kind
  return `there is no store at ${where} (a durable run creates it; --store or TASKWEAVE_STORE names another)`
}

/** {@link openExistingStore} for a command about one run: a missing store throws `TW_INVALID_OPTION` naming the run and the file. */
export async function openStoreOfRun(spec: StoreSpec, runId: string): Promise<RunStore> {
  const store = await openExistingStore(spec)
  if (store === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `no run "${runId}": ${noStoreAt(spec)}`, { retryable: false })
  return store
}

function storeError(text: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', `--store (or TASKWEAVE_STORE) must be memory, sqlite:PATH or postgres://…; received "${text}"`, { retryable: false })
}
