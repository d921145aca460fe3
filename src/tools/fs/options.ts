/** Options of the filesystem tools, checked once when the tools are created. @module */
import { DEFAULT_MAX_OUTPUT_BYTES } from '../../core/bytes.js'
import { resolve } from 'node:path'
import { InvalidOptionError } from '../../core/errors.js'
import { optionNames, refuseUnknownOptions } from '../../core/known-options.js'

/** Options of {@link createFsTools}. */
export interface FsToolOptions {
  /**
   * The directory the tools are confined to. Relative paths given to the tools are resolved
   * against it, and nothing outside it (after following symlinks) can be read, listed or inspected.
   */
  readonly root: string
  /**
   * Largest file `fs.readFile` returns, in bytes. Bigger files fail with `TW_FS_TOO_LARGE`. The
   * returned content is at most {@link contentBudget} of it in either encoding (the size of its
   * base64; a UTF-8 reading that JSON escaping would make larger is refused, asking for base64),
   * so the default's largest read fits the engine's default `maxOutputBytes` (1 MiB). Raising it
   * past the default needs a larger `maxOutputBytes` too: about 4/3 of this plus 32 KiB.
   * @default 761856 (744 KiB)
   */
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

/** The engine's default `maxOutputBytes` (1 MiB of JSON per task output), from `core`. */
export const ENGINE_DEFAULT_MAX_OUTPUT_BYTES = DEFAULT_MAX_OUTPUT_BYTES

/**
 * What an `fs.readFile` output holds besides its content, at most: the field names, the size and
 * a path of up to 4,095 bytes, which JSON escaping can grow to six times that.
 */
export const READ_OUTPUT_ENVELOPE_BYTES = 32 * 1024

/** The largest content (JSON-encoded, in bytes) a read of `maxReadBytes` may return: the base64 size of that many bytes. */
export function contentBudget(maxReadBytes: number): number {
  return 4 * Math.ceil(maxReadBytes / 3)
}

/**
 * Default of {@link FsToolOptions.maxReadBytes}: the largest size whose {@link contentBudget}
 * plus the envelope fits {@link ENGINE_DEFAULT_MAX_OUTPUT_BYTES}, so a default read never fails
 * the engine's default output limit, whatever the file and the encoding.
 */
export const DEFAULT_MAX_READ_BYTES = Math.floor((ENGINE_DEFAULT_MAX_OUTPUT_BYTES - READ_OUTPUT_ENVELOPE_BYTES) / 4) * 3

/** Every option of {@link FsToolOptions}. */
export const FS_TOOL_OPTION_NAMES = optionNames<FsToolOptions>()(['root', 'maxReadBytes', 'allowHardLinks'])

/** Checks the options (throwing `TW_INVALID_OPTION` naming the bad one) and applies defaults. */
export function resolveFsToolOptions(options: FsToolOptions): ResolvedFsToolOptions {
  refuseUnknownOptions('createFsTools', options, FS_TOOL_OPTION_NAMES, 'fs.')
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
