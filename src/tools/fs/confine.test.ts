import { execFileSync, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { TaskweaveError } from '../../core/errors.js'
import { silentLogger } from '../../core/logger.js'
import type { Tool, ToolContext } from '../../core/tool.js'
import { createFsTools } from './index.js'

// RELIABILITY TL-01: a workspace root, a canary outside it, and every known way out.
const CANARY = 'CANARY-7f3a'
const ctx: ToolContext = { signal: new AbortController().signal, runId: 'r', taskId: 't', attempt: 1, idempotencyKey: 'r/t', logger: silentLogger, progress() {}, addTask() {} }
const call = <S extends z.ZodType, O>(tool: Tool<S, O>, input: z.input<S>): Promise<O> => Promise.resolve(tool.run(tool.input.parse(input), ctx))

let base: string
let root: string
let tools: ReturnType<typeof createFsTools>

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'tw-tl01-'))
  root = join(base, 'ws')
  await mkdir(join(root, 'a'), { recursive: true })
  await mkdir(join(base, 'outside'))
  await writeFile(join(base, 'canary'), CANARY)
  await writeFile(join(base, 'outside', 'secret.txt'), CANARY)
  await writeFile(join(base, 'outside', 'outside-only.txt'), CANARY)
  await writeFile(join(root, 'hello.txt'), 'hello')
  await symlink(join(base, 'canary'), join(root, 'link-out'))
  await symlink('../../canary', join(root, 'a', 'relative-link-out'))
  await symlink(join(base, 'outside'), join(root, 'dir-link-out'))
  await symlink(join(base, 'missing'), join(root, 'dangling-out'))
  await symlink('/dev/zero', join(root, 'zero'))
  execFileSync('mkfifo', [join(root, 'fifo')])
  tools = createFsTools({ root })
})

afterAll(async () => {
  await rm(base, { recursive: true, force: true })
})

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    const output = await promise
    return `resolved: ${JSON.stringify(output)}`
  } catch (err) {
    expect(TaskweaveError.is(err)).toBe(true)
    expect((err as TaskweaveError).retryable).toBe(false)
    expect(String((err as Error).message)).not.toContain(CANARY)
    return (err as TaskweaveError).code
  }
}

/**
 * Runs `attempt` `times` times while a child process flips `<root>/<name>` between a directory
 * (holding a small `secret.txt`) and a symlink to the directory outside; returns how many
 * attempts reported a leak.
 */
async function underRace(name: string, times: number, attempt: (i: number) => Promise<boolean>): Promise<number> {
  await mkdir(join(root, `${name}-real`))
  await writeFile(join(root, `${name}-real`, 'secret.txt'), 'inside')
  await symlink(join(base, 'outside'), join(root, `${name}-link`))
  const script = `
    const fs = require('node:fs'), path = require('node:path'), [root, name] = process.argv.slice(1)
    const j = (suffix) => path.join(root, name + suffix)
    fs.renameSync(j('-real'), j(''))
    process.stdout.write('ready\\n')
    for (let i = 0; ; i++) {
      const link = i % 2 === 0
      fs.renameSync(j(link ? '-link' : '-real'), j('.tmp')); fs.renameSync(j(''), j(link ? '-real' : '-link')); fs.renameSync(j('.tmp'), j(''))
    }`
  const swapper = spawn(process.execPath, ['-e', script, root, name], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      swapper.stdout.once('data', () => resolve())
      swapper.once('exit', (code) => reject(new Error(`swapper exited with ${code}`)))
    })
    let leaks = 0
    for (let i = 0; i < times; i++) {
      try {
        if (await attempt(i)) leaks++
      } catch (err) {
        // Refusals and "not found" are fine answers under a race; anything untyped is not.
        expect(TaskweaveError.is(err)).toBe(true)
      }
    }
    return leaks
  } finally {
    if (swapper.exitCode === null && swapper.signalCode === null) {
      const exited = new Promise((resolve) => swapper.once('exit', resolve))
      swapper.kill()
      await exited
    }
  }
}

const escapes: Array<[string, string]> = [
  ['a parent reference', '../canary'],
  ['an absolute path outside the root', '/etc/passwd'],
  ['a parent reference after a directory', 'a/../../canary'],
  ['a backslash parent reference', '..\\canary'],
  ['a backslash-only path', '..\\..\\etc\\passwd'],
  ['a NUL byte', 'hello.txt\0../../canary'],
  ['a 4 KB name', 'a'.repeat(4096)],
  ['a 4 KB path of short segments', 'a/'.repeat(2048)],
  ['a symlink to a file outside', 'link-out'],
  ['a relative symlink to a file outside', 'a/relative-link-out'],
  ['a path through a symlink to a directory outside', 'dir-link-out/secret.txt'],
  ['a symlink to a device outside', 'zero'],
  ['a dangling symlink pointing outside', 'dangling-out'],
  ['a missing path under a symlink to a directory outside', 'dir-link-out/nope/deeper'],
]

describe('fs tools confinement (TL-01)', () => {
  for (const [label, path] of escapes) {
    it(`refuses ${label} in every tool`, async () => {
      const [readFile, listDirectory, getInfo] = tools
      expect(await codeOf(call(readFile, { path }))).toBe('TW_FS_DENIED')
      expect(await codeOf(call(getInfo, { path }))).toBe('TW_FS_DENIED')
      expect(await codeOf(call(listDirectory, { path }))).toBe('TW_FS_DENIED')
    })
  }

  it('names the offending path in the message', async () => {
    await expect(call(tools[0], { path: '../canary' })).rejects.toThrow(/"\.\.\/canary"/)
  })

  it('does not URL-decode: %2e%2e is an ordinary (missing) name', async () => {
    expect(await codeOf(call(tools[0], { path: '%2e%2e/canary' }))).toBe('TW_FS_NOT_FOUND')
  })

  it('refuses to read a FIFO without blocking on it', async () => {
    const started = Date.now()
    expect(await codeOf(call(tools[0], { path: 'fifo' }))).toBe('TW_FS_DENIED')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('refuses to read a directory', async () => {
    await expect(call(tools[0], { path: 'a' })).rejects.toThrow(/a directory, not a regular file/)
  })

  it('refuses a character device even when it is inside the root', async () => {
    const [readFile] = createFsTools({ root: '/dev' })
    await expect(call(readFile, { path: 'zero' })).rejects.toMatchObject({ code: 'TW_FS_DENIED' })
  })

  it('accepts an absolute path that is inside the root', async () => {
    expect(await call(tools[0], { path: join(root, 'hello.txt') })).toEqual({ path: 'hello.txt', size: 5, content: 'hello' })
  })

  it('never lists through a symlink to a directory outside during a recursive listing', async () => {
    const listing = await call(tools[1], { recursive: true })
    expect(listing.entries.find((e) => e.name === 'dir-link-out')).toMatchObject({ type: 'symlink' })
    expect(listing.entries.some((e) => e.name === 'secret.txt')).toBe(false)
  })

  it('rejects a missing root with TW_FS_NOT_FOUND', async () => {
    const [readFile] = createFsTools({ root: join(base, 'no-such-root') })
    expect(await codeOf(call(readFile, { path: 'x' }))).toBe('TW_FS_NOT_FOUND')
  })

  it('never returns the canary while paths are swapped between check and open', async () => {
    // A separate process swaps `race` (a file ↔ a symlink to the canary) and `racedir` (a
    // directory ↔ a symlink to a directory outside) as fast as it can, while reads run here.
    await writeFile(join(root, 'race-file'), 'inside')
    await mkdir(join(root, 'race-dir'))
    await writeFile(join(root, 'race-dir', 'secret.txt'), 'inside')
    const script = `
      const fs = require('node:fs'), path = require('node:path'), [root, canary, outside] = process.argv.slice(1)
      const j = (n) => path.join(root, n)
      fs.symlinkSync(canary, j('race-link')); fs.symlinkSync(outside, j('race-dirlink'))
      fs.copyFileSync(j('race-file'), j('race')); fs.renameSync(j('race-dir'), j('racedir'))
      fs.renameSync(j('race'), j('race-file')); fs.symlinkSync(j('race-file'), j('race'))
      fs.unlinkSync(j('race')); fs.copyFileSync(j('race-file'), j('race'))
      process.stdout.write('ready\\n')
      for (let i = 0; ; i++) {
        const link = i % 2 === 0
        fs.renameSync(j(link ? 'race-link' : 'race-file'), j('race.tmp')); fs.renameSync(j('race'), j(link ? 'race-file' : 'race-link')); fs.renameSync(j('race.tmp'), j('race'))
        fs.renameSync(j(link ? 'race-dirlink' : 'race-dir'), j('racedir.tmp')); fs.renameSync(j('racedir'), j(link ? 'race-dir' : 'race-dirlink')); fs.renameSync(j('racedir.tmp'), j('racedir'))
      }`
    const swapper = spawn(process.execPath, ['-e', script, root, join(base, 'canary'), join(base, 'outside')], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve, reject) => {
        swapper.stdout.once('data', () => resolve())
        swapper.once('exit', (code) => reject(new Error(`swapper exited with ${code}`)))
      })
      const outcomes = { read: 0, refused: 0, canary: 0 }
      for (let i = 0; i < 2000; i++) {
        for (const path of ['race', 'racedir/secret.txt']) {
          try {
            const { content } = await call(tools[0], { path })
            if (content.includes(CANARY)) outcomes.canary++
            else outcomes.read++
          } catch (err) {
            expect(TaskweaveError.is(err)).toBe(true)
            outcomes.refused++
          }
        }
      }
      expect(outcomes.canary).toBe(0)
      expect(outcomes.read + outcomes.refused).toBe(4000)
    } finally {
      swapper.kill()
    }
  })

  it('fs.getInfo never reports a file outside the root while a directory is flipped to a symlink', async () => {
    const leaks = await underRace('info', 2000, async () => {
      const info = await call(tools[2], { path: 'info/secret.txt' })
      return info.exists && info.size === CANARY.length
    })
    expect(leaks).toBe(0)
  })

  it('fs.listDirectory never lists a file outside the root while a directory is flipped to a symlink', async () => {
    const leaks = await underRace('list', 1000, async (i) => {
      const listing = await call(tools[1], i % 2 === 0 ? { path: 'list' } : { recursive: true })
      return listing.entries.some((e) => e.size === CANARY.length || e.name === 'outside-only.txt')
    })
    expect(leaks).toBe(0)
  })
})
