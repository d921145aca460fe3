/**
 * Starts the database thread: from the compiled package, its entry `worker.js` (plain
 * JavaScript). When taskweave itself runs from TypeScript source (its tests, `tsx` scripts), a
 * thread cannot load `worker.ts` alone (Node 20 has no type stripping, and tsx's ESM hook does not
 * reach into threads there), so the entry and what it imports are bundled once per process into
 * one CommonJS script with esbuild — tsx's own compiler, so nothing is needed beyond tsx, an
 * optional peer dependency — and every thread starts from that script. Registering tsx in each
 * thread instead costs a loader and a compile per module, about 100 ms a thread.
 * @module
 */
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { describeThrown } from '../../core/thrown.js'
import { storeError } from './errors.js'
import type { ThreadData } from './protocol.js'

/** Whether this module (and so the thread's entry) is TypeScript source rather than compiled output. */
const FROM_SOURCE = /\.[mc]?ts$/.test(new URL(import.meta.url).pathname)

/** The part of esbuild's API used here (esbuild comes with tsx; its types are not a dependency). */
interface Esbuild {
  buildSync(options: {
    readonly entryPoints: readonly string[]
    readonly bundle: true
    readonly platform: 'node'
    readonly format: 'cjs'
    readonly target: string
    readonly write: false
    readonly external: readonly string[]
    readonly logLevel: 'silent'
  }): { readonly outputFiles: readonly { readonly text: string }[] }
}

let sourceScript: string | undefined

/** The thread's script when running from source: `worker.ts` bundled, the driver left to `require`. */
function sourceThreadScript(location: string): string {
  if (sourceScript !== undefined) return sourceScript
  const entry = fileURLToPath(new URL('./worker.ts', import.meta.url))
  let esbuild: Esbuild
  try {
    esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/cjs'))('esbuild') as Esbuild
  } catch (err) {
    throw storeError(location, 'taskweave runs from TypeScript source here, and its SQLite thread needs tsx (with its esbuild) to compile: install tsx (npm i -D tsx), or use the compiled package', { retryable: false, cause: err })
  }
  let output: { readonly text: string } | undefined
  try {
    output = esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', write: false, external: ['better-sqlite3'], logLevel: 'silent' }).outputFiles[0]
  } catch (err) {
    throw storeError(location, `cannot compile the SQLite thread from ${entry}: ${describeThrown(err)}`, { retryable: false, cause: err })
  }
  if (output === undefined) throw storeError(location, `esbuild produced nothing for ${entry}`, { retryable: false })
  // An eval'd thread's `require` resolves from the working directory; the driver is resolved from here instead.
  sourceScript = `(function (require) {\n${output.text}\n})(require('node:module').createRequire(${JSON.stringify(entry)}))`
  return sourceScript
}

/**
 * Starts the thread that will open `data.file`. The thread gets no Node flags of the process
 * (`execArgv: []`): it runs only this store's code and the driver, so a loader the process was
 * started with (`--import tsx`, an instrumentation agent) is neither paid for nor run again there.
 */
export function spawnThread(data: ThreadData): Worker {
  if (!FROM_SOURCE) return new Worker(new URL('./worker.js', import.meta.url), { workerData: data, execArgv: [] })
  return new Worker(sourceThreadScript(data.location), { eval: true, workerData: data, execArgv: [] })
}
