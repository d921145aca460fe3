import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.js'
import type { ToolContext } from '../../core/tool.js'
import { createReadFileTool } from './read-file.js'
import { resolveFsToolOptions } from './options.js'

const ctx: ToolContext = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }

let root: string
let outside: string
beforeAll(async () => {
  outside = await mkdtemp(join(tmpdir(), 'tw-read-outside-'))
  root = await mkdtemp(join(tmpdir(), 'tw-read-'))
  await writeFile(join(outside, 'secret.txt'), 'outside secret')
  await link(join(outside, 'secret.txt'), join(root, 'hard-link'))
  await mkdir(join(root, 'docs'))
  await writeFile(join(root, 'docs', 'note.md'), 'héllo\n')
  await writeFile(join(root, 'ten.bin'), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
  await symlink('docs/note.md', join(root, 'note-link'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
  await rm(outside, { recursive: true, force: true })
})

const read = (input: { path: string; encoding?: 'utf8' | 'base64' }, maxReadBytes?: number, context = ctx, allowHardLinks = false) => {
  const tool = createReadFileTool(resolveFsToolOptions({ root, allowHardLinks, ...(maxReadBytes === undefined ? {} : { maxReadBytes }) }))
  return Promise.resolve(tool.run(tool.input.parse(input), context))
}

describe('fs.readFile', () => {
  it('reads a UTF-8 file and reports its byte size and normalised path', async () => {
    expect(await read({ path: './docs//note.md' })).toEqual({ path: 'docs/note.md', size: 7, content: 'héllo\n' })
  })

  it('returns base64 when asked', async () => {
    expect(await read({ path: 'ten.bin', encoding: 'base64' })).toMatchObject({ size: 10, content: 'AAECAwQFBgcICQ==' })
  })

  it('follows a symlink that stays inside the root', async () => {
    expect(await read({ path: 'note-link' })).toMatchObject({ path: 'note-link', content: 'héllo\n' })
  })

  it('reads a file exactly at the size limit', async () => {
    expect(await read({ path: 'ten.bin', encoding: 'base64' }, 10)).toMatchObject({ size: 10 })
  })

  it('refuses a UTF-8 reading that JSON escaping makes larger than base64 would be, suggesting base64', async () => {
    // Ten control bytes: 58 bytes of JSON as text, against 16 for the base64 of 10 bytes.
    const error = await read({ path: 'ten.bin' }, 10).catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'TW_FS_TOO_LARGE', retryable: false, details: { size: 10, limit: 16, option: 'maxReadBytes' } })
    expect(String(error)).toMatch(/read it with encoding "base64", or raise the fs tools' maxReadBytes option/)
  })

  it('refuses a file over the limit with TW_FS_TOO_LARGE naming size and limit', async () => {
    const error = await read({ path: 'ten.bin' }, 9).catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'TW_FS_TOO_LARGE', retryable: false, details: { size: 10, limit: 9 } })
    expect(String(error)).toMatch(/"ten\.bin" is 10 bytes, over the limit of 9 bytes; to read it, raise the fs tools' maxReadBytes option/)
  })

  it.skipIf(process.platform !== 'linux')('caps the read itself, not only the size reported by fstat', async () => {
    // procfs files report size 0 yet have content, like a file growing after it was checked.
    const tool = createReadFileTool(resolveFsToolOptions({ root: '/proc/self', maxReadBytes: 64 }))
    await expect(Promise.resolve(tool.run({ path: 'status' }, ctx))).rejects.toMatchObject({ code: 'TW_FS_TOO_LARGE', details: { size: 65, limit: 64 } })
  })

  it('reports a missing file with TW_FS_NOT_FOUND', async () => {
    await expect(read({ path: 'docs/missing.md' })).rejects.toMatchObject({ code: 'TW_FS_NOT_FOUND', retryable: false })
  })

  it('honours an aborted signal before touching the disk', async () => {
    const controller = new AbortController()
    controller.abort(new Error('stop'))
    await expect(read({ path: 'ten.bin' }, undefined, { ...ctx, signal: controller.signal })).rejects.toThrow('stop')
  })

  it('refuses a hard link (a file with two links) naming the path and the option that allows it', async () => {
    const error = await read({ path: 'hard-link' }).catch((err: unknown) => err)
    expect(error).toMatchObject({ code: 'TW_FS_DENIED', retryable: false, details: { path: 'hard-link' } })
    expect(String(error)).toMatch(/"hard-link" denied: it is a regular file with 2 hard links.*allowHardLinks: true/)
    expect(String(error)).not.toContain('outside secret')
  })

  it('reads a hard link when allowHardLinks is set', async () => {
    expect(await read({ path: 'hard-link' }, undefined, ctx, true)).toMatchObject({ content: 'outside secret' })
  })
})
