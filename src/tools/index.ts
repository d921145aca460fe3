/**
 * The built-in tools: `fs.readFile`, `fs.listDirectory`, `fs.getInfo` (confined to a root) and
 * `http.fetch` (SSRF-guarded). Each family has a factory taking its options; {@link builtinTools}
 * makes all of them at once.
 * @module
 */
import { refuseUnknownOptions } from '../core/known-options.js'
import { createFsTools, type FsToolOptions, type FsTools } from './fs/index.js'
import { createHttpTools, type HttpToolOptions, type HttpTools } from './http/index.js'

export { createFsTools, DEFAULT_MAX_READ_BYTES } from './fs/index.js'
export type {
  DirectoryEntry,
  EntryType,
  FsToolOptions,
  FsTools,
  GetInfoOutput,
  GetInfoTool,
  ListDirectoryOutput,
  ListDirectoryTool,
  ReadFileOutput,
  ReadFileTool,
  ResolvedFsToolOptions,
} from './fs/index.js'
export { createHttpTools, isPublicAddress } from './http/index.js'
export type { AllowedHost, HostLookup, HttpFetchOutput, HttpFetchTool, HttpToolOptions, HttpTools, ResolvedAddress, ResolvedHttpToolOptions } from './http/index.js'

/** Options of {@link builtinTools}: those of each tool family. */
export interface BuiltinToolOptions {
  /** Filesystem tools; `root` defaults to the current directory at the time of the call. */
  readonly fs?: Partial<FsToolOptions>
  /** The HTTP tool. */
  readonly http?: HttpToolOptions
}

/** Every built-in tool: `[fs.readFile, fs.listDirectory, fs.getInfo, http.fetch]`. */
export type BuiltinTools = readonly [...FsTools, ...HttpTools]

/**
 * Creates every built-in tool, ready for a `ToolRegistry`.
 *
 * @example
 * const registry = new ToolRegistry(builtinTools({ fs: { root: './data' }, http: { timeoutMs: 10_000 } }))
 * registry.names() // ['fs.getInfo', 'fs.listDirectory', 'fs.readFile', 'http.fetch']
 */
export function builtinTools(options: BuiltinToolOptions = {}): BuiltinTools {
  refuseUnknownOptions('builtinTools', options, ['fs', 'http'])
  const fs = createFsTools({ ...options.fs, root: options.fs?.root ?? process.cwd() })
  const http = createHttpTools(options.http)
  return Object.freeze([...fs, ...http] as const)
}

