/**
 * The built-in filesystem tools, `fs.readFile`, `fs.listDirectory` and `fs.getInfo`, all
 * confined to one root directory (RELIABILITY TL-01; see `confine.ts`, `confined-dir.ts` and
 * `open.ts` for how).
 * They only read: nothing here creates, changes or deletes files.
 * @module
 */
import { createGetInfoTool, type GetInfoTool } from './get-info.js'
import { createListDirectoryTool, type ListDirectoryTool } from './list-directory.js'
import type { FsToolOptions } from './options.js'
import { resolveFsToolOptions } from './options.js'
import { createReadFileTool, type ReadFileTool } from './read-file.js'

export type { FsToolOptions, ResolvedFsToolOptions } from './options.js'
export { DEFAULT_MAX_READ_BYTES } from './options.js'
export type { ReadFileOutput, ReadFileTool } from './read-file.js'
export type { DirectoryEntry, ListDirectoryOutput, ListDirectoryTool } from './list-directory.js'
export type { GetInfoOutput, GetInfoTool } from './get-info.js'
export type { EntryType } from './open.js'

/** The three filesystem tools, in a fixed order: `[fs.readFile, fs.listDirectory, fs.getInfo]`. */
export type FsTools = readonly [ReadFileTool, ListDirectoryTool, GetInfoTool]

/**
 * Creates the filesystem tools for one root. Options are checked here (bad ones throw
 * `TW_INVALID_OPTION`); the root itself is resolved on every call, so it need not exist yet.
 *
 * Paths are relative to `root` with `/` separators. Refused with `TW_FS_DENIED`: NUL bytes,
 * backslashes, `..` segments, absolute paths outside the root, over-long paths, anything that
 * resolves outside the root through a symlink, and anything but a regular file for reading
 * (directories, FIFOs, devices). Missing paths give `TW_FS_NOT_FOUND` (`fs.getInfo` answers
 * `exists: false` instead), files over `maxReadBytes` give `TW_FS_TOO_LARGE`. None is retryable.
 *
 * @example
 * const registry = new ToolRegistry(createFsTools({ root: './workspace', maxReadBytes: 256 * 1024 }))
 * // in a workflow: { id: 'readme', tool: 'fs.readFile', input: { path: 'README.md' } }
 */
export function createFsTools(options: FsToolOptions): FsTools {
  const resolved = resolveFsToolOptions(options)
  return Object.freeze([createReadFileTool(resolved), createListDirectoryTool(resolved), createGetInfoTool(resolved)] as const)
}
