/**
 * The `fs.getInfo` tool: what a path inside the root is, without reading it. The `lstat` goes
 * through a verified handle of the parent directory (`confined-dir.ts`), so a directory swapped
 * for a symlink after the path was checked cannot make it describe a file outside the root.
 * @module
 */
import { z } from 'zod'
import { TaskweaveError } from '../../core/errors.js'
import { defineTool, type Tool } from '../../core/tool.js'
import { confinePath, resolveConfined } from './confine.js'
import { lstatConfined } from './confined-dir.js'
import { assertSingleLink, entryType, type EntryType } from './open.js'
import type { ResolvedFsToolOptions } from './options.js'

const getInfoInput = z.object({
  path: z.string().describe('Path relative to the root ("/" separators).'),
})

/**
 * Output of `fs.getInfo`. A missing path is not an error: it gives `{ path, exists: false }`.
 * `type`, `size` and `modifiedAt` describe the path itself (`lstat`), so a symlink reports
 * `'symlink'`; a symlink whose target is outside the root is refused, like every other tool, and
 * so is a regular file with more than one hard link unless the `allowHardLinks` option is set.
 */
export type GetInfoOutput =
  | {
      /** The path, normalised and relative to the root. */
      readonly path: string
      readonly exists: true
      readonly type: EntryType
      /** Size in bytes (`lstat`). */
      readonly size: number
      /** Last modification, as an ISO 8601 string. */
      readonly modifiedAt: string
    }
  | { readonly path: string; readonly exists: false }

/** The `fs.getInfo` tool. */
export type GetInfoTool = Tool<typeof getInfoInput, GetInfoOutput>

/** Creates `fs.getInfo` for resolved options. */
export function createGetInfoTool(options: ResolvedFsToolOptions): GetInfoTool {
  return defineTool({
    name: 'fs.getInfo',
    description: 'Tells whether a path under the workspace root exists and gives its type, size and modification time.',
    input: getInfoInput,
    cost: 2,
    async run({ path }, ctx): Promise<GetInfoOutput> {
      const confined = await confinePath(options.root, path, ctx.signal)
      try {
        await resolveConfined(confined, ctx.signal)
      } catch (err) {
        if (!TaskweaveError.is(err, 'TW_FS_NOT_FOUND')) throw err
        // A symbolic link inside the root whose target (inside it too) is missing exists itself:
        // reported as the link it is, as fs.listDirectory lists it.
        const link = await lstatConfined(confined.named, confined.realRoot, path, ctx.signal).catch(() => undefined)
        if (link?.isSymbolicLink() !== true) return { path: confined.relative, exists: false }
        return { path: confined.relative, exists: true, type: 'symlink', size: link.size, modifiedAt: link.mtime.toISOString() }
      }
      // Looked up through the verified parent directory: the path itself may have changed since it was resolved.
      const stats = await lstatConfined(confined.named, confined.realRoot, path, ctx.signal)
      // Size and time of a hard-linked file may be those of a file outside the root.
      assertSingleLink(stats, path, options.allowHardLinks)
      return { path: confined.relative, exists: true, type: entryType(stats), size: stats.size, modifiedAt: stats.mtime.toISOString() }
    },
  })
}
