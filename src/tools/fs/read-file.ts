/**
 * The `fs.readFile` tool: reads one regular file inside the root, capped at `maxReadBytes`. The
 * content returned is never larger, as JSON, than the base64 of `maxReadBytes` bytes, so the
 * default limit and the engine's default output limit agree (see `options.ts`).
 * @module
 */
import { Buffer } from 'node:buffer'
import type { FileHandle } from 'node:fs/promises'
import { z } from 'zod'
import { defineTool, type Tool } from '../../core/tool.js'
import { resolvePath } from './confine.js'
import { fsTextTooLarge, fsTooLarge } from './errors.js'
import { openRegularFile } from './open.js'
import { contentBudget, type ResolvedFsToolOptions } from './options.js'

const CHUNK_BYTES = 64 * 1024

const readFileInput = z.object({
  path: z.string().describe('Path of the file, relative to the root ("/" separators).'),
  encoding: z.enum(['utf8', 'base64']).optional().describe('How to return the bytes. Invalid UTF-8 becomes U+FFFD. Default utf8.'),
})

/** Output of `fs.readFile`. */
export interface ReadFileOutput {
  /** The path read, normalised and relative to the root. */
  readonly path: string
  /** Bytes read. */
  readonly size: number
  /** The file's content in the requested encoding. */
  readonly content: string
}

/** The `fs.readFile` tool. */
export type ReadFileTool = Tool<typeof readFileInput, ReadFileOutput>

/** Creates `fs.readFile` for resolved options. */
export function createReadFileTool(options: ResolvedFsToolOptions): ReadFileTool {
  return defineTool({
    name: 'fs.readFile',
    // Descriptions reach LLM providers: they name no local path.
    description: `Reads a regular file under the workspace root (at most ${options.maxReadBytes} bytes), as UTF-8 text or base64.`,
    input: readFileInput,
    cost: 5,
    async run({ path, encoding = 'utf8' }, ctx) {
      const target = await resolvePath(options.root, path, ctx.signal)
      const { handle, size } = await openRegularFile(target, ctx.signal, options.allowHardLinks)
      try {
        // The size from fstat rejects a big file without reading it; the read below is capped too,
        // because a file can grow after fstat (or report size 0, like some special files).
        if (size > options.maxReadBytes) throw fsTooLarge(path, size, options.maxReadBytes)
        const bytes = await readCapped(handle, path, options.maxReadBytes, ctx.signal)
        const content = bytes.toString(encoding)
        if (encoding === 'utf8') checkTextSize(content, path, bytes.length, contentBudget(options.maxReadBytes))
        return { path: target.relative, size: bytes.length, content }
      } finally {
        await handle.close()
      }
    },
  })
}

/** Refuses text that JSON would make larger than `budget` bytes: at most 6 bytes per UTF-16 unit (`\u0000`), so most text is never measured. */
function checkTextSize(content: string, path: string, size: number, budget: number): void {
  if (content.length * 6 + 2 <= budget) return
  const jsonBytes = Buffer.byteLength(JSON.stringify(content))
  if (jsonBytes > budget) throw fsTextTooLarge(path, size, jsonBytes, budget)
}

async function readCapped(handle: FileHandle, path: string, limit: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for (;;) {
    signal.throwIfAborted()
    // One byte past the limit is enough to know the file is too large.
    const want = Math.min(CHUNK_BYTES, limit + 1 - total)
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(want), 0, want, null)
    if (bytesRead === 0) break
    chunks.push(buffer.subarray(0, bytesRead))
    total += bytesRead
    if (total > limit) throw fsTooLarge(path, total, limit)
  }
  return Buffer.concat(chunks, total)
}
