/**
 * Wall-clock jumps across a crash (RELIABILITY CK-01): a durable run is killed while 50 tasks wait
 * for their retry and 50 run under 30 s timeouts, then resumed in a process whose wall clock is
 * 2 h ahead or 2 h behind (libfaketime). Timeouts use the monotonic clock: none fires spuriously.
 * Ahead, the recorded retries are due at once (by the wall clock their delay has passed); behind,
 * they wait at most their own delay, not the 2 h the clock went back, and the resume says the clock
 * went back. No retry fires twice.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, root } from '../cli-bin.js'

const CHILD = join(root, 'test/durable/clock-child.mjs')
const dir = mkdtempSync(join(tmpdir(), 'tw-clock-'))
const children = new Set<ChildProcess>()

beforeAll(() => ensureBuilt(), 120_000)
afterAll(() => {
  // A resume that waits out the jump (the defect this guards against) must not outlive the test.
  for (const proc of children) proc.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

interface Resumed {
  readonly status: string
  readonly counts: Record<string, number>
  readonly timeouts: number
  readonly ms: number
  readonly now: string
  readonly warnings: readonly string[]
}

/** libfaketime for multi-threaded programs, preloaded into node itself (the `faketime` wrapper would fork, and a kill would miss node). */
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1'].find((path) => existsSync(path))

/** Runs the child, its wall clock moved by `faketime` (`+2h`); `untilReady` kills it (SIGKILL) once it printed `ready`. */
function child(args: string[], options: { readonly faketime?: string; readonly untilReady?: boolean }): Promise<string> {
  let env: NodeJS.ProcessEnv = process.env
  if (options.faketime !== undefined) {
    if (LIBFAKETIME === undefined) throw new Error('libfaketime is not installed: apt-get install faketime (.ci/run installs it)')
    env = { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: options.faketime, FAKETIME_DONT_FAKE_MONOTONIC: '1' }
  }
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CHILD, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(proc)
    let out = ''
    let err = ''
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (options.untilReady === true && out.includes('ready\n')) proc.kill('SIGKILL')
    })
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    proc.on('error', reject)
    proc.on('exit', (code, signal) => {
      children.delete(proc)
      if (options.untilReady === true ? signal === 'SIGKILL' && out.includes('ready') : code === 0) resolve(out)
      else reject(new Error(`clock child ${args.join(' ')} ended ${code ?? signal}:\n${out}\n${err}`))
    })
  })
}

/** Each task's starts, from the log the children append to. */
function startsOf(db: string): Map<string, string[]> {
  const starts = new Map<string, string[]>()
  for (const line of readFileSync(`${db}.starts`, 'utf8').split('\n').filter(Boolean)) {
    const [taskId = '', attempt = ''] = line.split('#')
    starts.set(taskId, [...(starts.get(taskId) ?? []), attempt])
  }
  return starts
}

async function crashAndResume(name: string, delayMs: number, faketime: string): Promise<{ readonly resumed: Resumed; readonly starts: Map<string, string[]> }> {
  const db = join(dir, `${name}.db`)
  await child([db, name, 'start', String(delayMs)], { untilReady: true })
  const resumed = JSON.parse((await child([db, name, 'resume', String(delayMs)], { faketime })).trim().split('\n').pop() ?? '{}') as Resumed
  return { resumed, starts: startsOf(db) }
}

describe('a durable run resumed after the wall clock jumped', () => {
  it('+2 h: the recorded retries are due at once, no timeout fires, nothing runs twice', async () => {
    const { resumed, starts } = await crashAndResume('ahead', 5 * 60_000, '+2h')
    process.stdout.write(`${JSON.stringify({ case: 'CK-01', jump: '+2h', spuriousTimeouts: resumed.timeouts, resumeMs: resumed.ms })}\n`)
    expect(Date.parse(resumed.now) - Date.now()).toBeGreaterThan(7_000_000)
    expect(resumed.status).toBe('succeeded')
    expect(resumed.timeouts).toBe(0)
    // The 5-minute retries did not wait: the resume took the slow tasks' 1.5 s and little more.
    expect(resumed.ms).toBeLessThan(30_000)
    for (let k = 0; k < 50; k++) expect(starts.get(`flaky${k}`)).toEqual(['1', '2'])
  }, 90_000)

  it('-2 h: the recorded retries wait at most their own delay (not 2 h), the resume says the clock went back, nothing runs twice', async () => {
    const { resumed, starts } = await crashAndResume('behind', 10_000, '-2h')
    process.stdout.write(`${JSON.stringify({ case: 'CK-01', jump: '-2h', spuriousTimeouts: resumed.timeouts, resumeMs: resumed.ms })}\n`)
    expect(Date.now() - Date.parse(resumed.now)).toBeGreaterThan(7_000_000)
    expect(resumed.status).toBe('succeeded')
    expect(resumed.timeouts).toBe(0)
    expect(resumed.ms).toBeLessThan(30_000)
    expect(resumed.warnings.join('\n')).toMatch(/run "behind": its journal's newest entry was written 2 h 0 min later than now .*the wall clock went back/)
    for (let k = 0; k < 50; k++) expect(starts.get(`flaky${k}`)).toEqual(['1', '2'])
  }, 90_000)
})
