/** Options of the filesystem tools, checked once when the tools are created. @module */
import { resolve } from 'node:path'
import { InvalidOptionError } from '../../core/errors.js'

/** Options of {@link createFsTools}. */
export interface FsToolOptions {
  /**
   * The directory the tools are confined to. Relative paths given to the tools are resolved
   * against it, and nothing outside it (after following symlinks) can be read, listed or inspected.
   */
  readonly root: string
  /** Largest file `fs.readFile` returns, in bytes. Bigger files fail with `TW_FS_TOO_LARGE`. @default 1048576 (1 MiB) */
  readonly maxReadBytes?: number
  /**
   * Read and describe regular files that have more than one hard link. Off by default because a
   * hard link inside the root may be a second name for a file outside it, and no path check can
   * tell: `fs.readFile` and `fs.getInfo` refuse such files with `TW_FS_DENIED`, and
   * `fs.listDirectory` lists them without a size. Turn on when nobody who could plant a link
   * inside the root can read something outside it that must stay private. @default false
   */
  readonly allowHardLinks?: boolean
}

/** {@link FsToolOptions} with defaults applied and the root made absolute. */
export interface ResolvedFsToolOptions {
  /** Absolute (but not yet canonical: the root may itself be or contain a symlink) root directory. */
  readonly root: string
  readonly maxReadBytes: number
  readonly allowHardLinks: boolean
}

/** Default of {@link FsToolOptions.maxReadBytes}. */
export const DEFAULT_MAX_READ_BYTES = 1024 * 1024

/** Checks the options (throwing `TW_INVALID_OPTION` naming the bad one) and applies defaults. */
export function resolveFsToolOptions(options: FsToolOptions): ResolvedFsToolOptions {
  const { root, maxReadBytes = DEFAULT_MAX_READ_BYTES, allowHardLinks = false } = options
  if (typeof root !== 'string' || root.length === 0 || root.includes('\0')) {
    throw new InvalidOptionError('fs.root', 'a non-empty directory path without NUL bytes', root)
  }
  if (!Number.isSafeInteger(maxReadBytes) || maxReadBytes < 0) {
    throw new InvalidOptionError('fs.maxReadBytes', 'a non-negative integer number of bytes', maxReadBytes)
  }
  if (typeof allowHardLinks !== 'boolean') throw new InvalidOptionError('fs.allowHardLinks', 'a boolean', allowHardLinks)
  // Resolved now, so a later process.chdir() cannot move the jail.
  return Object.freeze({ root: resolve(root), maxReadBytes, allowHardLinks })
}
