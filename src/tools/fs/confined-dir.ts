/**
 * Path confinement, part two: directories as opened handles. Every filesystem tool looks things
 * up through one of these rather than through a path, because a path checked by `confine.ts`
 * can change before it is used: a directory in it can be swapped for a symlink to the outside
 * between the check and the `lstat`, and the `lstat` would then describe a file outside the root.
 *
 * The approach is open, then verify: the directory is opened without following a final symlink,
 * the kernel's name for the opened descriptor is read back (`/proc/self/fd/<fd>`) and must lie
 * inside the root, and from then on its entries are named *through the descriptor*
 * (`/proc/self/fd/<fd>/<name>`), so whatever happens to the original path no longer matters.
 *
 * Without procfs (not Linux) the directory's path is re-resolved after opening and must still be
 * the same inode; that narrows the race window but cannot close it.
 * @module
 */
import { constants, type Dirent, type Stats } from 'node:fs'
import { access, lstat, open, readdir, readlink, realpath, stat, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { isInside, mapIoError } from './confine.js'
import { fsDenied } from './errors.js'

const DIRECTORY_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_DIRECTORY ?? 0)

let procFs: Promise<boolean> | undefined
/** Whether `/proc/self/fd` names open descriptors (Linux), probed once. */
export function hasProcFs(): Promise<boolean> {
  procFs ??= access('/proc/self/fd').then(() => true, () => false)
  return procFs
}

/** The kernel's path of an open descriptor; " (deleted)" marks an object unlinked since it was opened. */
export async function descriptorPath(handle: FileHandle): Promise<string> {
  return (await readlink(`/proc/self/fd/${handle.fd}`)).replace(/ \(deleted\)$/, '')
}

/** A directory opened and verified to lie inside the root. The caller must {@link ConfinedDirectory.close} it. */
export interface ConfinedDirectory {
  /** The opened directory's own stats (fstat). */
  readonly stats: Stats
  /** A path naming the entry `name` of *this* directory, which never re-walks the path it was opened by. */
  childPath(name: string): string
  /** `lstat` of one entry, looked up in this directory. I/O errors become `TW_FS_*` errors. */
  lstatChild(name: string): Promise<Stats>
  /** The entries of this directory. */
  entries(): Promise<Dirent[]>
  close(): Promise<void>
}

/**
 * Opens the directory at the canonical path `realDir` and checks the opened directory lies
 * inside `realRoot`; refuses (`TW_FS_DENIED`) one that was swapped for a symlink or moved out.
 * `input` is the caller's path, for messages.
 */
export async function openConfinedDirectory(realDir: string, realRoot: string, input: string, signal: AbortSignal): Promise<ConfinedDirectory> {
  signal.throwIfAborted()
  const handle = await open(realDir, DIRECTORY_FLAGS).catch((err: unknown) => Promise.reject(mapIoError(input, err)))
  try {
    const stats = await handle.stat()
    const viaFd = await hasProcFs()
    if (viaFd) {
      if (!isInside(realRoot, await descriptorPath(handle))) throw fsDenied(input, 'it moved outside the root while being opened')
    } else {
      const again = await realpath(realDir).catch(() => undefined)
      const now = again === undefined ? undefined : await stat(again).catch(() => undefined)
      if (again !== realDir || now?.dev !== stats.dev || now.ino !== stats.ino) throw fsDenied(input, 'it was replaced while being opened')
    }
    const base = viaFd ? `/proc/self/fd/${handle.fd}` : realDir
    const childPath = (name: string): string => join(base, name)
    return {
      stats,
      childPath,
      lstatChild: (name) => lstat(childPath(name)).catch((err: unknown) => Promise.reject(mapIoError(input, err))),
      // Reading through the descriptor lists the directory that was checked, not whatever the path names now.
      entries: () => readdir(base, { withFileTypes: true }).catch((err: unknown) => Promise.reject(mapIoError(input, err))),
      close: () => handle.close(),
    }
  } catch (err) {
    await handle.close()
    throw err
  }
}

/**
 * Runs `use` with the verified parent directory of `path` and the last segment of `path`; for the
 * root itself, with the root and `undefined`. `path` may pass through symlinks inside the root:
 * only its parent is resolved, so a final symlink is looked at, not followed.
 */
export async function withConfinedParent<T>(
  path: string,
  realRoot: string,
  input: string,
  signal: AbortSignal,
  use: (dir: ConfinedDirectory, name: string | undefined) => Promise<T>,
): Promise<T> {
  const isRoot = path === realRoot
  const parent = isRoot ? realRoot : await realpath(dirname(path)).catch((err: unknown) => Promise.reject(mapIoError(input, err)))
  const dir = await openConfinedDirectory(parent, realRoot, input, signal)
  try {
    return await use(dir, isRoot ? undefined : basename(path))
  } finally {
    await dir.close()
  }
}

/** `lstat` of a path inside the root, looked up through its verified parent directory. */
export function lstatConfined(path: string, realRoot: string, input: string, signal: AbortSignal): Promise<Stats> {
  return withConfinedParent(path, realRoot, input, signal, (dir, name) => (name === undefined ? Promise.resolve(dir.stats) : dir.lstatChild(name)))
}
