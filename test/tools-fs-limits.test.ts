/**
 * The default `fs.readFile` limit and the engine's default output limit agree: the largest read
 * the fs tools allow by default fits the output limit in either encoding, and a larger file
 * fails in the fs tool with an error naming the option to raise, not later with
 * `TW_OUTPUT_TOO_LARGE` (a 900 KB file read as base64 once did).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from '../src/engine/engine.js'
import { DEFAULT_MAX_READ_BYTES } from '../src/tools/index.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tw-fs-limits-'))
  await writeFile(join(root, '900k.bin'), Buffer.alloc(900 * 1024, 0xab))
  // At the default limit, and the worst case for text: every byte a control character escaped as \u0001.
  await writeFile(join(root, 'at-limit.bin'), Buffer.alloc(DEFAULT_MAX_READ_BYTES, 0x01))
  await writeFile(join(root, 'at-limit.txt'), Buffer.alloc(DEFAULT_MAX_READ_BYTES, 0x61))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

async function readThroughEngine(path: string, encoding: 'utf8' | 'base64') {
  await using engine = createEngine({ builtins: { fs: { root } } })
  const result = await engine.run({ id: 'read', tasks: [{ id: 'read', tool: 'fs.readFile', input: { path, encoding } }] })
  return result.tasks['read']!
}

describe('fs.readFile limits against the engine output limit (defaults)', () => {
  it('fails a 900 KB base64 read in the fs tool, naming maxReadBytes, not with TW_OUTPUT_TOO_LARGE', async () => {
    const task = await readThroughEngine('900k.bin', 'base64')
    expect(task.status).toBe('failed')
    expect(task.error).toMatchObject({ code: 'TW_FS_TOO_LARGE', message: expect.stringContaining("raise the fs tools' maxReadBytes option") as unknown })
  })

  it('returns a file at the default limit as base64 and as text', async () => {
    expect(await readThroughEngine('at-limit.bin', 'base64')).toMatchObject({ status: 'succeeded', output: { size: DEFAULT_MAX_READ_BYTES } })
    expect(await readThroughEngine('at-limit.txt', 'utf8')).toMatchObject({ status: 'succeeded', output: { size: DEFAULT_MAX_READ_BYTES } })
  })

  it('never lets a read within the default limit fail the output limit, even text that escapes to six times its size', async () => {
    const task = await readThroughEngine('at-limit.bin', 'utf8')
    expect(task.error).toMatchObject({ code: 'TW_FS_TOO_LARGE', message: expect.stringContaining('encoding "base64"') as unknown })
  })
})
