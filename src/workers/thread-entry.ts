/**
 * Runs inside a pool thread: loads the worker module, calls its export, and answers with an
 * envelope. Piscina would call the module directly, but then only an error's name and message
 * cross back (no `code`, no `retryable`), and a TypeScript module that fails to load is reported
 * as "Unknown file extension" instead of its own error. The envelope carries the error as
 * `serializeError` data, so `TaskweaveError.is(err, code)` works on the main thread.
 *
 * TypeScript modules are loaded with `require`: in Node 20 threads tsx hooks `require` but not
 * `import`, and tsx compiles ESM syntax for `require` (so top-level await is unavailable there).
 * @module
 */
import { describeThrown } from '../core/thrown.js'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { serializeError, TaskweaveError } from '../core/errors.js'
import type { SerializedError } from '../core/errors.js'
import { uncloneableReason } from './cloneable.js'

/** What the main thread posts. */
export interface ThreadTask {
  readonly filename: string
  readonly exportName: string
  readonly input: unknown
}

/** What the thread answers. */
export type ThreadResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: SerializedError }

const TS_EXTENSION = /\.[mc]?ts$/i
const modules = new Map<string, Promise<Record<string, unknown>>>()

function load(filename: string): Promise<Record<string, unknown>> {
  let loaded = modules.get(filename)
  if (loaded === undefined) {
    loaded = TS_EXTENSION.test(filename)
      ? Promise.resolve().then(() => createRequire(import.meta.url)(filename) as Record<string, unknown>)
      : (import(pathToFileURL(filename).href) as Promise<Record<string, unknown>>)
    // A module that failed to load is tried again by the next task (it may have been fixed on disk).
    loaded.catch(() => modules.delete(filename))
    modules.set(filename, loaded)
  }
  return loaded
}

/** Piscina calls this default export with each task. It never throws: failures are in the envelope. */
export default async function runThreadTask(task: ThreadTask): Promise<ThreadResult> {
  let namespace: Record<string, unknown>
  try {
    namespace = await load(task.filename)
  } catch (err) {
    const error = new TaskweaveError('TW_WORKER_MODULE', `worker module ${task.filename} failed to load: ${describeThrown(err)}`, {
      cause: err,
      retryable: false,
      details: { module: task.filename },
    })
    return { ok: false, error: serializeError(error) }
  }
  const fn = namespace[task.exportName]
  if (typeof fn !== 'function') {
    const error = new TaskweaveError('TW_WORKER_EXPORT', `${task.filename} has no function export "${task.exportName}"`, {
      retryable: false,
      details: { module: task.filename, exportName: task.exportName, exports: Object.keys(namespace) },
    })
    return { ok: false, error: serializeError(error) }
  }
  let value: unknown
  try {
    value = await (fn as (input: unknown) => unknown)(task.input)
  } catch (err) {
    return { ok: false, error: serializeError(err) }
  }
  // Posting an uncloneable value would throw inside the thread after the task ended (see cloneable.ts).
  const uncloneable = uncloneableReason(value)
  if (uncloneable === undefined) return { ok: true, value }
  const error = new TaskweaveError('TW_WORKER_OUTPUT', `${task.filename} export "${task.exportName}" returned a value that cannot be sent back from its thread: ${uncloneable}. Return plain data (objects, arrays, strings, numbers, booleans, null)`, {
    retryable: false,
    details: { module: task.filename, exportName: task.exportName },
  })
  return { ok: false, error: serializeError(error) }
}
