/**
 * Opening regular files inside the root. A path checked by `confine.ts` can be swapped (for a
 * symlink, a FIFO, another directory) before it is opened, so the file is opened through its
 * verified parent directory (`confined-dir.ts`), without following a final symlink, and then
 * what was actually opened is checked: a regular file, the same inode that was looked at, still
 * inside the root, with no other hard link.
 *
 * A hard link cannot be told apart from the file it links to by any path check: one planted
 * inside the root may be a second name for a file outside. So a regular file with more than one
 * link is refused unless the `allowHardLinks` option says the caller accepts that.
 * @module
 */
import { describeFileKind } from '../../core/file-kind.js'
import { constants, type Stats } from 'node:fs'
import { open, realpath, stat, type FileHandle } from 'node:fs/promises'
import { isInside, mapIoError, type ResolvedPath } from './confine.js'
import { descriptorPath, hasProcFs, withConfinedParent } from './confined-dir.js'
import { fsDenied } from './errors.js'

// O_NONBLOCK: should a FIFO be swapped in after the type check, opening it must not hang a
// thread-pool thread waiting for a writer. O_NOCTTY: a terminal must never become ours.
const FILE_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0)

/** What kind of thing a stat describes, as the tools report it. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'other'

/** The {@link EntryType} of an `lstat` result. */
export function entryType(stats: Stats): EntryType {
  if (stats.isFile()) return 'file'
  if (stats.isDirectory()) return 'directory'
  if (stats.isSymbolicLink()) return 'symlink'
  return 'other'
}

/**
 * Refuses (`TW_FS_DENIED`) a regular file with more than one hard link unless `allowHardLinks`;
 * directories always have several links and are not concerned.
 */
export function assertSingleLink(stats: Stats, input: string, allowHardLinks: boolean): void {
  if (allowHardLinks || !stats.isFile() || stats.nlink <= 1) return
  throw fsDenied(
    input,
    `it is a regular file with ${stats.nlink} hard links, and another link may lie outside the root; set the fs tools' option allowHardLinks: true to accept such files`,
  )
}

/** Whether a regular file's size may be reported: not for a file with other hard links, unless allowed (see {@link assertSingleLink}). */
export function isSizeShown(stats: Stats, allowHardLinks: boolean): boolean {
  return allowHardLinks || !stats.isFile() || stats.nlink <= 1
}

/** An opened regular file inside the root. The caller closes `handle`. */
export interface OpenedFile {
  readonly handle: FileHandle
  /** Size at open time (from fstat). */
  readonly size: number
}

/**
 * Opens a resolved path for reading; refuses anything but a regular file still inside the root,
 * and a file with other hard links unless `allowHardLinks`.
 */
export function openRegularFile(target: ResolvedPath, signal: AbortSignal, allowHardLinks: boolean): Promise<OpenedFile> {
  return withConfinedParent(target.real, target.realRoot, target.input, signal, async (dir, name) => {
    if (name === undefined) throw fsDenied(target.input, 'it is a directory, not a regular file')
    // Checked before opening so a FIFO or a device is never opened at all (that can block or have side effects).
    const before = await dir.lstatChild(name)
    if (before.isSymbolicLink()) throw fsDenied(target.input, 'it was replaced by a symbolic link while being opened')
    if (!before.isFile()) throw fsDenied(target.input, `it is ${describeFileKind(before)}, not a regular file`)
    signal.throwIfAborted()
    const handle = await open(dir.childPath(name), FILE_FLAGS).catch((err: unknown) => Promise.reject(mapIoError(target.input, err)))
    try {
      const opened = await handle.stat()
      if (!opened.isFile()) throw fsDenied(target.input, `it became ${describeFileKind(opened)} while being opened`)
      if (opened.dev !== before.dev || opened.ino !== before.ino) throw fsDenied(target.input, 'it was replaced while being opened')
      await assertOpenedInside(handle, opened, target)
      assertSingleLink(opened, target.input, allowHardLinks)
      return { handle, size: opened.size }
    } catch (err) {
      await handle.close()
      throw err
    }
  })
}

async function assertOpenedInside(handle: FileHandle, opened: Stats, target: ResolvedPath): Promise<void> {
  if (await hasProcFs()) {
    // Redundant with the parent's check, and cheap: the kernel's own name for what was opened.
    if (!isInside(target.realRoot, await descriptorPath(handle))) throw fsDenied(target.input, 'the opened file lies outside the root')
    return
  }
  const again = await realpath(target.real).catch(() => undefined)
  const now = again === undefined ? undefined : await stat(again).catch(() => undefined)
  if (again === undefined || now === undefined || !isInside(target.realRoot, again) || now.dev !== opened.dev || now.ino !== opened.ino) {
    throw fsDenied(target.input, 'it moved while being opened')
  }
}
