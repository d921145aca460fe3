/**
 * Where a worker module lives and what a thread needs to load it. Threads load plain JavaScript;
 * a TypeScript module (`.ts`, `.mts`, `.cts`) is loaded through tsx, registered in the thread with
 * `--import` and resolved from this package, so the caller's working directory does not matter.
 * The thread entry (`thread-entry`) is TypeScript too when taskweave itself runs from source.
 * @module
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isAbsolute } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'

const TS_EXTENSION = /\.[mc]?ts$/i
// What a process started by `tsx file.ts` or `node --import tsx` carries in its execArgv.
const TSX_FLAG_VALUE = /(^tsx(\/|$))|([\\/]tsx[\\/]dist[\\/])/

/** A worker module, located. */
export interface WorkerModule {
  /** Absolute path of the file. */
  readonly filename: string
  readonly isTypeScript: boolean
}

/** Resolves `module` (a file URL, or an absolute path) and checks the file exists. */
export function locateWorkerModule(module: URL | string): WorkerModule {
  let filename: string
  if (module instanceof URL || module.startsWith('file:')) {
    filename = fileURLToPath(module)
  } else if (isAbsolute(module)) {
    filename = module
  } else {
    throw new InvalidOptionError('module', "a file URL (new URL('./work.ts', import.meta.url)) or an absolute path", module)
  }
  if (!existsSync(filename)) throw new InvalidOptionError('module', 'an existing file', filename)
  return { filename, isTypeScript: TS_EXTENSION.test(filename) }
}

/** True when these Node flags already load tsx. */
export function loadsTsx(execArgv: readonly string[]): boolean {
  return execArgv.some((arg) => TSX_FLAG_VALUE.test(arg.replace(/^--(import|require|loader)=/, '')))
}

let tsxLoader: string | undefined

/**
 * The file URL of tsx's loader, as `--import` wants it. tsx is an optional peer dependency, needed
 * only for TypeScript worker modules: when it is missing, `TW_INVALID_OPTION` says to install it.
 */
export function tsxLoaderUrl(resolveTsx?: () => string): string {
  if (tsxLoader !== undefined && resolveTsx === undefined) return tsxLoader
  resolveTsx ??= () => createRequire(import.meta.url).resolve('tsx')
  let path: string
  try {
    path = resolveTsx()
  } catch (err) {
    throw new TaskweaveError('TW_INVALID_OPTION', 'a TypeScript worker module needs tsx, which is not installed: install it in your project (npm i -D tsx), or point the worker tool at compiled JavaScript', {
      retryable: false,
      cause: err,
    })
  }
  tsxLoader = pathToFileURL(path).href
  return tsxLoader
}

/** The module every pool thread runs: `thread-entry`, compiled (`.js`) or from source (`.ts`). */
export const THREAD_ENTRY: WorkerModule = (() => {
  const isTypeScript = TS_EXTENSION.test(new URL(import.meta.url).pathname)
  return { filename: fileURLToPath(new URL(isTypeScript ? './thread-entry.ts' : './thread-entry.js', import.meta.url)), isTypeScript }
})()

/**
 * Node flags for the threads of a pool running `module`: `explicit` when given; else inherited
 * (undefined), with tsx added when the module or the thread entry is TypeScript and the process
 * does not load tsx already.
 */
export function threadExecArgv(
  module: WorkerModule,
  explicit: readonly string[] | undefined,
  parent: readonly string[] = process.execArgv,
  entry: WorkerModule = THREAD_ENTRY,
): readonly string[] | undefined {
  if (explicit !== undefined) return explicit
  if (!(module.isTypeScript || entry.isTypeScript) || loadsTsx(parent)) return undefined
  return [...parent, '--import', tsxLoaderUrl()]
}
