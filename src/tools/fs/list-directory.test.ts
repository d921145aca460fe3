import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { silentLogger } from '../../core/logger.js'
import type { ToolContext } from '../../core/tool.js'
import { createListDirectoryTool } from './list-directory.js'
import { resolveFsToolOptions } from './options.js'

const ctx: ToolContext = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }

let base: string
let root: string
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tw-list-'))
  root = join(base, 'root')
  await mkdir(join(root, 'src', 'nested'), { recursive: true })
  await mkdir(join(base, 'outside'))
  await writeFile(join(base, 'outside', 'secret.ts'), 'secret')
  await writeFile(join(root, 'README.md'), '# hi')
  await writeFile(join(root, 'src', 'a.ts'), 'export {}')
  await writeFile(join(root, 'src', 'b.js'), '')
  await writeFile(join(root, 'src', 'nested', 'c.ts'), '')
  await symlink(join(base, 'outside'), join(root, 'src', 'escape'))
})
afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

const tool = (options: { root?: string; allowHardLinks?: boolean } = {}) => createListDirectoryTool(resolveFsToolOptions({ root, ...options }))
const list = (input: z.input<ReturnType<typeof tool>['input']>, context = ctx, options: { root?: string; allowHardLinks?: boolean } = {}) => {
  const t = tool(options)
  return Promise.resolve(t.run(t.input.parse(input), context))
}

describe('fs.listDirectory', () => {
  it('stops, truncated, before its JSON passes the output the engine takes by default', async () => {
    const many = join(base, 'many')
    await mkdir(many)
    const longName = (k: number): string => `${String(k).padStart(6, '0')}-${'x'.repeat(100)}.txt`
    for (let k = 0; k < 6000; k += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => writeFile(join(many, longName(k + j)), '')))
    const listing = await list({}, ctx, { root: many })
    expect(listing.truncated).toBe(true)
    expect(listing.entries.length).toBeGreaterThan(1000)
    expect(listing.entries.length).toBeLessThan(6000)
    expect(Buffer.byteLength(JSON.stringify(listing))).toBeLessThan(1024 * 1024 - 16 * 1024)
  })

  it('lists the root by default, sorted, with types and sizes', async () => {
    const listing = await list({})
    expect(listing).toEqual({
      path: '.',
      truncated: false,
      entries: [
        { path: 'README.md', name: 'README.md', type: 'file', size: 4 },
        { path: 'src', name: 'src', type: 'directory', size: expect.any(Number) },
      ],
    })
  })

  it('walks subdirectories when recursive, reporting symlinks without following them', async () => {
    const { entries } = await list({ path: 'src', recursive: true })
    expect(entries.map((e) => `${e.path}:${e.type}`)).toEqual([
      'src/a.ts:file',
      'src/b.js:file',
      'src/escape:symlink',
      'src/nested:directory',
      'src/nested/c.ts:file',
    ])
  })

  it('filters names with include globs but still walks directories', async () => {
    const { entries } = await list({ recursive: true, include: ['*.ts'] })
    expect(entries.map((e) => e.path)).toEqual(['src/a.ts', 'src/nested/c.ts'])
  })

  it('stops at maxEntries and says so', async () => {
    expect(await list({ recursive: true, maxEntries: 2 })).toMatchObject({ truncated: true, entries: [{ name: 'README.md' }, { name: 'src' }] })
    expect(await list({ maxEntries: 2 })).toMatchObject({ truncated: false })
  })

  it('refuses to list a file', async () => {
    await expect(list({ path: 'README.md' })).rejects.toMatchObject({ code: 'TW_FS_DENIED' })
  })

  it('reports a missing directory with TW_FS_NOT_FOUND', async () => {
    await expect(list({ path: 'nope' })).rejects.toMatchObject({ code: 'TW_FS_NOT_FOUND' })
  })

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('cancelled'))
    await expect(list({ recursive: true }, { ...ctx, signal: controller.signal })).rejects.toThrow('cancelled')
  })

  it('lists a file with other hard links without its size, unless allowHardLinks is set', async () => {
    const linksRoot = join(base, 'links-root')
    await mkdir(join(linksRoot, 'links'), { recursive: true })
    await link(join(base, 'outside', 'secret.ts'), join(linksRoot, 'links', 'hard.ts'))
    expect((await list({ path: 'links' }, ctx, { root: linksRoot })).entries).toEqual([{ path: 'links/hard.ts', name: 'hard.ts', type: 'file' }])
    expect((await list({ path: 'links' }, ctx, { root: linksRoot, allowHardLinks: true })).entries).toEqual([{ path: 'links/hard.ts', name: 'hard.ts', type: 'file', size: 6 }])
  })
})
