/**
 * Path confinement, part two: checks on opened handles. A path checked by `confine.ts` can be
 * swapped (for a symlink, a FIFO, another directory) before it is opened; these functions open
 * without following a final symlink and then check what was actually opened.
 *
 * On Linux the opened descriptor's location is read back from `/proc/self/fd`, which names the
 * object really opened whatever happened to the path; elsewhere the path is re-resolved and must
 * still name the same inode. Hardlinks cannot be told apart from the file they link to by any
 * path check: a hardlink planted inside the root is readable (the tools never create links).
 * @module
 */
import { constants, type Dirent, type Stats } from 'node:fs'
import { access, open, readdir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises'
import { fsDenied } from './errors.js'
import { isInside, mapIoError, type ResolvedPath } from './confine.js'

// O_NONBLOCK: should a FIFO be swapped in after the type check, opening it must not hang a
// thread-pool thread waiting for a writer. O_NOCTTY: a terminal must never become ours.
const FILE_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0)
const DIRECTORY_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_DIRECTORY ?? 0)

let procFs: Promise<boolean> | undefined
function hasProcFs(): Promise<boolean> {
  procFs ??= access('/proc/self/fd').then(() => true, () => false)
  return procFs
}

/** What kind of thing a stat describes, as the tools report it. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'other'

/** The {@link EntryType} of an `lstat` result. */
export function entryType(stats: Stats): EntryType {
  if (stats.isFile()) return 'file'
  if (stats.isDirectory()) return 'directory'
  if (stats.isSymbolicLink()) return 'symlink'
  return 'other'
}

function describe(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory'
  if (stats.isFIFO()) return 'a FIFO'
  if (stats.isSocket()) return 'a socket'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}

/** An opened regular file inside the root. The caller closes `handle`. */
export interface OpenedFile {
  readonly handle: FileHandle
  /** Size at open time (from fstat). */
  readonly size: number
}

/** Opens a resolved path for reading; refuses anything but a regular file still inside the root. */
export async function openRegularFile(target: ResolvedPath, signal: AbortSignal): Promise<OpenedFile> {
  signal.throwIfAborted()
  // Checked before opening so a FIFO or a device is never opened at all (that can block or have side effects).
  const before = await stat(target.real).catch((err: unknown) => Promise.reject(mapIoError(target.input, err)))
  if (!before.isFile()) throw fsDenied(target.input, `it is ${describe(before)}, not a regular file`)
  signal.throwIfAborted()
  const handle = await open(target.real, FILE_FLAGS).catch((err: unknown) => Promise.reject(mapIoError(target.input, err)))
  try {
    const opened = await handle.stat()
    if (!opened.isFile()) throw fsDenied(target.input, `it became ${describe(opened)} while being opened`)
    if (opened.dev !== before.dev || opened.ino !== before.ino) throw fsDenied(target.input, 'it was replaced while being opened')
    await assertOpenedInside(handle, opened, target)
    return { handle, size: opened.size }
  } catch (err) {
    await handle.close()
    throw err
  }
}

/**
 * Lists a directory known by its canonical path, through a handle opened without following a
 * final symlink, after checking the handle is inside the root.
 */
export async function readDirectory(realDir: string, realRoot: string, input: string, signal: AbortSignal): Promise<Dirent[]> {
  signal.throwIfAborted()
  if (await hasProcFs()) {
    const handle = await open(realDir, DIRECTORY_FLAGS).catch((err: unknown) => Promise.reject(mapIoError(input, err)))
    try {
      const fdPath = `/proc/self/fd/${handle.fd}`
      if (!isInside(realRoot, await readlink(fdPath))) throw fsDenied(input, 'it moved outside the root while being opened')
      // Reading through the descriptor lists the directory that was checked, not whatever the path names now.
      return await readdir(fdPath, { withFileTypes: true })
    } finally {
      await handle.close()
    }
  }
  const again = await realpath(realDir).catch((err: unknown) => Promise.reject(mapIoError(input, err)))
  if (again !== realDir) throw fsDenied(input, 'it was replaced by a symbolic link while being listed')
  return readdir(realDir, { withFileTypes: true })
}

async function assertOpenedInside(handle: FileHandle, opened: Stats, target: ResolvedPath): Promise<void> {
  if (await hasProcFs()) {
    // The kernel's name for the open file; " (deleted)" marks one unlinked since it was opened.
    const location = (await readlink(`/proc/self/fd/${handle.fd}`)).replace(/ \(deleted\)$/, '')
    if (!isInside(target.realRoot, location)) throw fsDenied(target.input, 'the opened file lies outside the root')
    return
  }
  const again = await realpath(target.real).catch(() => undefined)
  const now = again === undefined ? undefined : await stat(again).catch(() => undefined)
  if (again === undefined || now === undefined || !isInside(target.realRoot, again) || now.dev !== opened.dev || now.ino !== opened.ino) {
    throw fsDenied(target.input, 'it moved while being opened')
  }
}
