/**
 * Path confinement for the filesystem tools (RELIABILITY TL-01), part one: from a user-supplied
 * path to a canonical path inside the root. `confined-dir.ts` holds part two, lookups through
 * verified directory handles, and `open.ts` the opening of files.
 *
 * Layers, each closing a hole the previous one leaves:
 * 1. Lexical, before any I/O: NUL bytes, backslashes, any `..` segment, paths over PATH_MAX,
 *    names over NAME_MAX and absolute paths outside the root are refused. `..` is refused even
 *    when it would stay inside, because `a/..` means something else to the kernel when `a` is a
 *    symlink, and a jail should not have two readings of one path.
 * 2. Canonical: the path is resolved with `realpath` and must lie inside the *real* root, so a
 *    symlink in the root that points outside is refused whatever its depth.
 * 3. Missing paths: "not found" is only answered when the deepest existing part of the path is
 *    itself inside the root; otherwise the answer would reveal what exists outside.
 * @module
 */
import { Buffer } from 'node:buffer'
import { lstat, readlink, realpath, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, resolve, sep } from 'node:path'
import { fsDenied, fsNotFound, systemCode } from './errors.js'

/** Linux PATH_MAX less the terminating NUL: longer paths cannot name anything. */
export const MAX_PATH_BYTES = 4095
/** Linux NAME_MAX: the longest single file name. */
export const MAX_NAME_BYTES = 255

/** A path checked lexically: inside the root by construction, not yet resolved. */
export interface ConfinedPath {
  /** The path exactly as the caller gave it (for messages). */
  readonly input: string
  /** Normalised path relative to the root with `/` separators; `.` for the root itself. */
  readonly relative: string
  /** Absolute path under the real root, as named (it may still pass through in-root symlinks). */
  readonly named: string
  /** The canonical root, resolved at the time of the call. */
  readonly realRoot: string
}

/** A confined path whose canonical form exists and lies inside the root. */
export interface ResolvedPath extends ConfinedPath {
  /** Canonical absolute path (`realpath`), inside {@link ConfinedPath.realRoot}. */
  readonly real: string
}

/** Whether `path` is `root` or below it. Both must be canonical absolute paths. */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep)
}

/** Checks `input` lexically against the root (layer 1). Throws `TW_FS_DENIED`, or `TW_FS_NOT_FOUND` for a missing root. */
export async function confinePath(root: string, input: string, signal: AbortSignal): Promise<ConfinedPath> {
  signal.throwIfAborted()
  checkShape(input)
  const realRoot = await realRootOf(root)
  const segments = segmentsOf(root, realRoot, input)
  const named = join(realRoot, ...segments)
  if (Buffer.byteLength(named) > MAX_PATH_BYTES) throw fsDenied(input, `the path is longer than ${MAX_PATH_BYTES} bytes`)
  return { input, relative: segments.length === 0 ? '.' : segments.join('/'), named, realRoot }
}

/** Confines `input` and resolves it to a canonical path inside the root (layers 1–3). */
export async function resolvePath(root: string, input: string, signal: AbortSignal): Promise<ResolvedPath> {
  return resolveConfined(await confinePath(root, input, signal), signal)
}

/** Resolves an already confined path (layers 2–3). */
export async function resolveConfined(confined: ConfinedPath, signal: AbortSignal): Promise<ResolvedPath> {
  const { input } = confined
  signal.throwIfAborted()
  let real: string
  try {
    real = await realpath(confined.named)
  } catch (err) {
    throw await explainFailure(confined, err)
  }
  if (!isInside(confined.realRoot, real)) throw fsDenied(input, 'it resolves through a symbolic link to a location outside the root')
  return { ...confined, real }
}

/** Turns an I/O error on a confined path into `TW_FS_NOT_FOUND` / `TW_FS_DENIED`; unknown errors pass through. */
export function mapIoError(input: string, err: unknown): unknown {
  switch (systemCode(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return fsNotFound(input, err)
    case 'ELOOP':
    case 'EMLINK': // FreeBSD's answer to O_NOFOLLOW on a symlink
      return fsDenied(input, 'it is, or passes through, a symbolic link that cannot be followed here', err)
    case 'EACCES':
    case 'EPERM':
      return fsDenied(input, 'permission denied', err)
    case 'ENAMETOOLONG':
      return fsDenied(input, 'the path is too long', err)
    default:
      return err
  }
}

function checkShape(input: string): void {
  if (typeof input !== 'string') throw fsDenied(String(input), 'the path must be a string')
  if (input.includes('\0')) throw fsDenied(input, 'the path contains a NUL byte')
  // On POSIX a backslash is an ordinary name character, but to a reader (and on Windows) it is a
  // separator: `..\\x` must never look harmless in a log yet mean something else on disk.
  if (input.includes('\\')) throw fsDenied(input, 'the path contains a backslash; use "/" as the separator')
  if (Buffer.byteLength(input) > MAX_PATH_BYTES) throw fsDenied(input, `the path is longer than ${MAX_PATH_BYTES} bytes`)
}

async function realRootOf(root: string): Promise<string> {
  // Resolved on every call: the root may legitimately be a symlink that is repointed between runs.
  let realRoot: string
  try {
    realRoot = await realpath(root)
  } catch (err) {
    throw systemCode(err) === 'ENOENT' ? fsNotFound(root, err) : mapIoError(root, err)
  }
  if (!(await stat(realRoot)).isDirectory()) throw fsDenied(root, 'the root is not a directory')
  return realRoot
}

function segmentsOf(root: string, realRoot: string, input: string): string[] {
  let rest = input
  if (isAbsolute(input)) {
    // An absolute path is accepted only when it names something under the root, as configured or canonical.
    const base = [root, realRoot].find((candidate) => isInside(candidate, input))
    if (base === undefined) throw fsDenied(input, 'absolute path outside the root')
    rest = input.slice(base.length)
  }
  const segments: string[] = []
  for (const segment of rest.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') throw fsDenied(input, '".." segments are not allowed')
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) throw fsDenied(input, `a path segment is longer than ${MAX_NAME_BYTES} bytes`)
    segments.push(segment)
  }
  return segments
}

/** Explains a failed realpath without revealing anything about what lies outside the root. */
async function explainFailure(confined: ConfinedPath, err: unknown): Promise<unknown> {
  const code = systemCode(err)
  if (code !== 'ENOENT' && code !== 'ENOTDIR') return mapIoError(confined.input, err)
  // Walk up to the deepest part of the path that exists; only if that part is inside the root is
  // "not found" a truthful answer about the root rather than an oracle about the outside.
  let probe = confined.named
  while (probe !== confined.realRoot && isInside(confined.realRoot, probe)) {
    const found = await lstat(probe).then(() => true, () => false)
    if (found) {
      return (await landsOutside(probe, confined.realRoot))
        ? fsDenied(confined.input, 'it resolves through a symbolic link to a location outside the root', err)
        : fsNotFound(confined.input, err)
    }
    probe = dirname(probe)
  }
  return fsNotFound(confined.input, err)
}

async function landsOutside(probe: string, realRoot: string): Promise<boolean> {
  try {
    return !isInside(realRoot, await realpath(probe))
  } catch {
    // A dangling symlink: judge it by where its first hop points.
    try {
      return !isInside(realRoot, resolve(await realpath(dirname(probe)), await readlink(probe)))
    } catch {
      return true // cannot tell: refusing is the safe answer
    }
  }
}
