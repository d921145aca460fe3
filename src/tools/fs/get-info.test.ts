import { link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.js'
import type { ToolContext } from '../../core/tool.js'
import { createGetInfoTool } from './get-info.js'
import { resolveFsToolOptions } from './options.js'

const ctx: ToolContext = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tw-info-'))
  await mkdir(join(root, 'dir'))
  await writeFile(join(root, 'dir', 'file.txt'), 'abc')
  await utimes(join(root, 'dir', 'file.txt'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'))
  await symlink('dir/file.txt', join(root, 'link'))
  await symlink('dir/missing.txt', join(root, 'dangling'))
  await writeFile(join(root, 'dir', 'linked.txt'), 'twice')
  await link(join(root, 'dir', 'linked.txt'), join(root, 'dir', 'linked-again.txt'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

const info = (path: string, allowHardLinks = false) => {
  const tool = createGetInfoTool(resolveFsToolOptions({ root, allowHardLinks }))
  return Promise.resolve(tool.run(tool.input.parse({ path }), ctx))
}

describe('fs.getInfo', () => {
  it('describes a file', async () => {
    expect(await info('dir/file.txt')).toEqual({ path: 'dir/file.txt', exists: true, type: 'file', size: 3, modifiedAt: '2024-01-02T03:04:05.000Z' })
  })

  it('describes a directory and the root itself', async () => {
    expect(await info('dir')).toMatchObject({ path: 'dir', exists: true, type: 'directory' })
    expect(await info('.')).toMatchObject({ path: '.', exists: true, type: 'directory' })
  })

  it('reports a symlink whose in-root target is missing as the symlink it is, not as missing', async () => {
    expect(await info('dangling')).toMatchObject({ path: 'dangling', exists: true, type: 'symlink' })
    expect(await info('dir/missing.txt')).toEqual({ path: 'dir/missing.txt', exists: false })
  })

  it('reports an in-root symlink as a symlink', async () => {
    expect(await info('link')).toMatchObject({ path: 'link', exists: true, type: 'symlink' })
  })

  it('answers exists: false for a missing path inside the root', async () => {
    expect(await info('dir/nope.txt')).toEqual({ path: 'dir/nope.txt', exists: false })
  })

  it('still refuses a missing path outside the root', async () => {
    await expect(info('../nope')).rejects.toMatchObject({ code: 'TW_FS_DENIED' })
  })

  it('refuses a regular file with more than one hard link unless allowHardLinks is set', async () => {
    await expect(info('dir/linked.txt')).rejects.toMatchObject({ code: 'TW_FS_DENIED', message: expect.stringMatching(/"dir\/linked\.txt".*allowHardLinks/) as unknown })
    expect(await info('dir/linked.txt', true)).toMatchObject({ exists: true, type: 'file', size: 5 })
  })
})
