/**
 * The `fs.listDirectory` tool: a directory's entries, optionally recursive, filtered by name
 * globs and capped in count. Symlinks are reported as `'symlink'` and never descended into, and
 * each directory is read, and its entries are looked at, through a verified handle
 * (`confined-dir.ts`), so a directory swapped for a symlink mid-walk can neither lead the walk
 * outside the root nor make it report the sizes of files outside.
 * @module
 */
import { join } from 'node:path'
import { z } from 'zod'
import { TaskweaveError } from '../../core/errors.js'
import { defineTool, type Tool } from '../../core/tool.js'
import { resolvePath } from './confine.js'
import { lstatConfined, openConfinedDirectory, type ConfinedDirectory } from './confined-dir.js'
import { fsDenied } from './errors.js'
import { matchesAny } from './glob.js'
import { entryType, isSizeShown, type EntryType } from './open.js'
import { ENGINE_DEFAULT_MAX_OUTPUT_BYTES, READ_OUTPUT_ENVELOPE_BYTES } from './options.js'
import type { ResolvedFsToolOptions } from './options.js'

const listDirectoryInput = z.object({
  path: z.string().default('.').describe('Directory relative to the root ("/" separators). Default: the root.'),
  recursive: z.boolean().default(false).describe('Also list subdirectories (symlinks are never followed).'),
  maxEntries: z.number().int().min(1).max(1_000_000).default(10_000).describe('Stop after this many entries and set truncated.'),
  include: z
    .array(z.string().min(1).max(255))
    .max(100)
    .optional()
    .describe('Only list entries whose name matches one of these globs (`*` any run, `?` one character), e.g. ["*.ts"]. Directories are still walked.'),
})

/** Most JSON a listing's entries take: the engine's default output limit, less the room fs.readFile also leaves. */
const LISTING_MAX_BYTES = ENGINE_DEFAULT_MAX_OUTPUT_BYTES - READ_OUTPUT_ENVELOPE_BYTES

/** One entry of a listing. */
export interface DirectoryEntry {
  /** Path relative to the root, with `/` separators. */
  readonly path: string
  /** The entry's own name. */
  readonly name: string
  readonly type: EntryType
  /**
   * Size in bytes (`lstat`). Absent for a regular file with more than one hard link (it may be
   * the size of a file outside the root) unless the `allowHardLinks` option is set.
   */
  readonly size?: number
}

/** Output of `fs.listDirectory`. */
export interface ListDirectoryOutput {
  /** The directory listed, normalised and relative to the root. */
  readonly path: string
  /** Entries, each directory's sorted by name, parents before their children. */
  readonly entries: DirectoryEntry[]
  /**
   * True when the listing stopped early: at `maxEntries`, or once its JSON would pass what the
   * engine takes as a task's output by default (1 MiB, less room for the rest of the output).
   */
  readonly truncated: boolean
}

/** The `fs.listDirectory` tool. */
export type ListDirectoryTool = Tool<typeof listDirectoryInput, ListDirectoryOutput>

/** Creates `fs.listDirectory` for resolved options. */
export function createListDirectoryTool(options: ResolvedFsToolOptions): ListDirectoryTool {
  return defineTool({
    name: 'fs.listDirectory',
    description: "Lists a directory under the workspace root, optionally recursively, with each entry's type and size.",
    input: listDirectoryInput,
    cost: 10,
    async run({ path, recursive, maxEntries, include }, ctx): Promise<ListDirectoryOutput> {
      const target = await resolvePath(options.root, path, ctx.signal)
      const base = target.relative === '.' ? '' : `${target.relative}/`
      const entries: DirectoryEntry[] = []
      // The listing's JSON size so far: a long listing of long names must stop before the engine's
      // output limit refuses the whole of it.
      let bytes = 0
      // Depth-first, with an explicit stack: depth is bounded only by PATH_MAX.
      const pending = [{ real: target.real, relative: base, input: path }]
      let truncated = false
      const start = await lstatConfined(target.real, target.realRoot, path, ctx.signal)
      if (!start.isDirectory()) throw fsDenied(path, 'it is not a directory')
      walk: for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
        let opened: ConfinedDirectory
        try {
          opened = await openConfinedDirectory(dir.real, target.realRoot, dir.input, ctx.signal)
        } catch (err) {
          // A subdirectory that vanished or cannot be read is listed but not descended into; the
          // start directory and any confinement failure are errors.
          if (dir.real === target.real || !isSkippable(err)) throw err
          continue
        }
        const children: typeof pending = []
        try {
          const names = (await opened.entries()).map((entry) => entry.name).sort()
          for (const name of names) {
            ctx.signal.throwIfAborted()
            const stats = await opened.lstatChild(name).catch(() => undefined)
            if (stats === undefined) continue // removed since the directory was read
            const type = entryType(stats)
            const relative = `${dir.relative}${name}`
            if (matchesAny(include, name)) {
              const entry: DirectoryEntry = isSizeShown(stats, options.allowHardLinks) ? { path: relative, name, type, size: stats.size } : { path: relative, name, type }
              bytes += Buffer.byteLength(JSON.stringify(entry)) + 1
              if (entries.length >= maxEntries || bytes > LISTING_MAX_BYTES) {
                truncated = true
                break walk
              }
              entries.push(entry)
            }
            if (recursive && type === 'directory') children.push({ real: join(dir.real, name), relative: `${relative}/`, input: relative })
          }
        } finally {
          await opened.close()
        }
        // Reversed onto the stack so subdirectories are walked in name order.
        pending.push(...children.reverse())
      }
      return { path: target.relative, entries, truncated }
    },
  })
}

function isSkippable(err: unknown): boolean {
  return TaskweaveError.is(err, 'TW_FS_NOT_FOUND') || (TaskweaveError.is(err, 'TW_FS_DENIED') && err.details['reason'] === 'permission denied')
}
