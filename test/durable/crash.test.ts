/**
 * Crash tests with real processes (RELIABILITY.md §2): a child runs a 2,000-task durable DAG on
 * SQLite and is killed with SIGKILL, at each named crash point and at random times, then started
 * again until the run finishes. The tools' ledger is the oracle: no task may be lost, and no task
 * may start again after its outcome was committed.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, root } from '../cli-bin.js'
import { openSqliteStore } from 'taskweave/stores/sqlite'

const CHILD = join(root, 'test/durable/crash-child.mjs')
const RETRY_CHILD = join(root, 'test/durable/retry-child.mjs')
let dir: string

beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-crash-'))
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface ChildExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the child (`script`, else the DAG child) once; `killAfterMs` sends SIGKILL after that long, `env` may name a crash point. */
function runChild(args: string[], options: { env?: Record<string, string>; killAfterMs?: number; script?: string } = {}): Promise<ChildExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.script ?? CHILD, ...args], { cwd: root, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    // A random kill is timed from the child's "ready" (its run started), not from the spawn.
    let killer: NodeJS.Timeout | undefined
    const armKiller = (): void => {
      if (options.killAfterMs !== undefined && killer === undefined) killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs)
    }
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) armKiller()
    })
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (killer !== undefined) clearTimeout(killer)
      clearTimeout(guard)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

interface LedgerLine {
  readonly taskId: string
  readonly attempt: number
  readonly phase: 'start' | 'end'
}

/**
 * The ledger's lines. A SIGKILL can tear an append (Linux checks for a fatal signal between the
 * pages a write spans), and the next process's line then goes on the same line: each record is
 * read from where it starts, and a torn one counts as a start of the attempt it names (the
 * strictest reading for the audit), or not at all if it names none.
 */
function ledgerLines(text: string): LedgerLine[] {
  const lines: LedgerLine[] = []
  for (const raw of text.split('\n')) {
    for (const piece of raw.split(/(?=\{"runId")/)) {
      if (piece.trim() === '') continue
      try {
        lines.push(JSON.parse(piece) as LedgerLine)
      } catch {
        const taskId = /"taskId":"([^"]+)"/.exec(piece)?.[1]
        const attempt = /"attempt":(\d+)[,}]/.exec(piece)?.[1]
        if (taskId !== undefined && attempt !== undefined) lines.push({ taskId, attempt: Number(attempt), phase: 'start' })
      }
    }
  }
  return lines
}

/** Checks the finished run against the ledger; returns the §2 figures. */
async function audit(db: string, ledgerFile: string, runId: string, tasks: number): Promise<{ lost: number; reexecAfterCommit: number; inflightReexec: number }> {
  const store = await openSqliteStore({ path: db })
  try {
    const run = await store.load(runId)
    expect(run?.status).toBe('succeeded')
    const committed = new Map<string, number>()
    for (const entry of run?.entries ?? []) if (entry.kind === 'ok' && entry.taskId !== undefined) committed.set(entry.taskId, entry.attempt ?? 0)
    const lines = ledgerLines(readFileSync(ledgerFile, 'utf8'))
    let reexecAfterCommit = 0
    let inflightReexec = 0
    for (const line of lines) {
      if (line.phase !== 'start') continue
      const at = committed.get(line.taskId)
      if (at === undefined) continue
      if (line.attempt > at) reexecAfterCommit++
      else if (line.attempt < at) inflightReexec++
    }
    return { lost: tasks - committed.size, reexecAfterCommit, inflightReexec }
  } finally {
    await store.close()
  }
}

/** The tasks whose success the store holds for `runId` now (none before the store exists). */
async function committedTasks(db: string, runId: string): Promise<Set<string>> {
  if (!existsSync(db)) return new Set()
  const store = await openSqliteStore({ path: db })
  try {
    return new Set((await store.load(runId))?.entries.flatMap((entry) => (entry.kind === 'ok' && entry.taskId !== undefined ? [entry.taskId] : [])) ?? [])
  } finally {
    await store.close()
  }
}

/**
 * Where each child's ledger lines begin, and what the store held committed when it started: any
 * start a child wrote for a task committed before it began is a re-execution after commit,
 * whatever attempt number it carried (a start that was never journaled lets a number repeat).
 */
interface ChildSegment {
  readonly offset: number
  readonly committed: ReadonlySet<string>
}

/** Starts of tasks committed before the child that wrote them began (see {@link ChildSegment}). */
function startsAfterCommit(ledgerFile: string, segments: readonly ChildSegment[]): number {
  const bytes = readFileSync(ledgerFile)
  let count = 0
  segments.forEach((segment, k) => {
    const end = segments[k + 1]?.offset ?? bytes.length
    for (const line of ledgerLines(bytes.subarray(segment.offset, end).toString('utf8'))) if (line.phase === 'start' && segment.committed.has(line.taskId)) count++
  })
  return count
}

/** Starts the child again (no crash point) until the run has finished; returns how many starts it took. */
async function finish(args: string[], env?: Record<string, string>): Promise<number> {
  for (let k = 1; k <= 20; k++) {
    const exit = await runChild(args, env !== undefined ? { env } : {})
    if (exit.code === 0) {
      expect(exit.stdout).toContain('"status":"succeeded"')
      return k
    }
    if (exit.signal === null) throw new Error(`the child failed (exit ${exit.code}): ${exit.stderr}`)
  }
  throw new Error('the run did not finish in 20 starts')
}

describe('crash tests (SIGKILL, SQLite store)', () => {
  const points = ['run.afterCreate:1', 'journal.beforeAppend:1', 'journal.beforeAppend:7', 'journal.afterAppend:1', 'journal.afterAppend:9', 'resume.afterAcquire:1']
  for (const point of points) {
    it(`crash point ${point}: it fires, and the resumed run loses nothing and re-executes nothing committed`, async () => {
      const name = point.replace(/[^a-z0-9]+/gi, '_')
      const db = join(dir, `${name}.db`)
      const ledger = join(dir, `${name}.ledger`)
      const fired = join(dir, `${name}.fired`)
      const args = [db, ledger, `run-${name}`, '10', '20']
      if (point.startsWith('resume.')) {
        // A resume needs an interrupted run first.
        const first = await runChild(args, { env: { TW_CRASHPOINT: 'journal.afterAppend:3' } })
        expect(first.signal).toBe('SIGKILL')
      }
      const exit = await runChild(args, { env: { TW_CRASHPOINT: point, TW_CRASHPOINT_FILE: fired } })
      expect(exit.signal).toBe('SIGKILL')
      expect(existsSync(fired) ? readFileSync(fired, 'utf8') : '').toContain(point)
      await finish(args)
      const figures = await audit(db, ledger, `run-${name}`, 200)
      expect(figures.lost).toBe(0)
      expect(figures.reexecAfterCommit).toBe(0)
    }, 60_000)
  }

  it('a crash loop during recovery (CR-04): five processes killed in a row right after taking the run converge, burning no attempt and no start', async () => {
    const db = join(dir, 'loop.db')
    const ledger = join(dir, 'loop.ledger')
    const runId = 'crash-loop'
    const args = [db, ledger, runId, '10', '20']
    // The default bound on starts without an outcome (3): recoveries that die before running
    // anything must not count against it, or five of them would fail the interrupted tasks.
    const env = { MAX_STARTS: '3' }
    const first = await runChild(args, { env: { ...env, TW_CRASHPOINT: 'journal.afterAppend:3' } })
    expect(first.signal).toBe('SIGKILL')
    const before = await openSqliteStore({ path: db })
    const entriesBefore = (await before.load(runId))?.entries.length ?? 0
    await before.close()
    for (let k = 1; k <= 5; k++) {
      const fired = join(dir, `loop-${k}.fired`)
      const exit = await runChild(args, { env: { ...env, TW_CRASHPOINT: 'resume.afterAcquire:1', TW_CRASHPOINT_FILE: fired } })
      expect(exit.signal).toBe('SIGKILL')
      expect(readFileSync(fired, 'utf8')).toContain('resume.afterAcquire')
    }
    // Recovery is idempotent: the five dead recoveries wrote nothing to the journal.
    const after = await openSqliteStore({ path: db })
    expect((await after.load(runId))?.entries.length).toBe(entriesBefore)
    await after.close()
    expect(await finish(args, env)).toBe(1)
    const figures = await audit(db, ledger, runId, 200)
    expect(figures.lost).toBe(0)
    expect(figures.reexecAfterCommit).toBe(0)
    // One real crash with attempts in flight: no committed attempt is later than the second.
    const store = await openSqliteStore({ path: db })
    const attempts = (await store.load(runId))?.entries.filter((entry) => entry.kind === 'ok').map((entry) => entry.attempt ?? 0) ?? []
    await store.close()
    expect(Math.max(...attempts)).toBeLessThanOrEqual(2)
  }, 120_000)

  it('a backoff schedule survives a kill during the third wait (RT-01): attempts 1 to 6, none repeated or reset, no wait cut short, little lateness', async () => {
    const db = join(dir, 'backoff.db')
    const ledger = join(dir, 'backoff.ledger')
    const args = [db, ledger, 'backoff']
    const lines = (): { attempt: number; phase: string; at: number; pid: number }[] =>
      existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { attempt: number; phase: string; at: number; pid: number }) : []
    // Killed once attempt 3 has failed: its retry (600 ms: 150 × 2²) is waiting.
    const child = spawn(process.execPath, [RETRY_CHILD, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)))
    const deadline = Date.now() + 20_000
    while (!lines().some((line) => line.attempt === 3 && line.phase === 'fail') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    // The failure's journal entry (with its due time) is committed within a commit or two; the
    // retry is due 600 ms after the failure, so the kill still lands in the wait.
    await new Promise((resolve) => setTimeout(resolve, 250))
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const killedAt = Date.now()
    const restart = await runChild(args, { script: RETRY_CHILD })
    expect(restart.code).toBe(0)
    expect(restart.stdout).toContain('"status":"succeeded","attempts":6')
    const starts = lines().filter((line) => line.phase === 'start')
    expect(starts.map((line) => line.attempt)).toEqual([1, 2, 3, 4, 5, 6])
    const failedAt = (attempt: number): number => (lines().find((line) => line.attempt === attempt && line.phase === 'fail') as { at: number }).at
    const startedAt = (attempt: number): number => (starts.find((line) => line.attempt === attempt) as { at: number }).at
    for (const attempt of [2, 3, 4, 5, 6]) {
      // Never before its delay (150 ms doubling; 1 ms of clock rounding).
      expect(startedAt(attempt) - failedAt(attempt - 1)).toBeGreaterThanOrEqual(150 * 2 ** (attempt - 2) - 1)
    }
    // The wait cut by the kill goes on after the restart: attempt 4 starts once its due time has
    // passed, within a second of the later of its due time and the restart.
    const due4 = failedAt(3) + 600
    expect(startedAt(4) - Math.max(due4, killedAt)).toBeLessThan(1_000)
    expect(new Set(starts.map((line) => line.pid)).size).toBe(2)
  }, 60_000)

  it('100 kills at random times of processes running a 2,000-task DAG: 0 lost, 0 re-executed after commit', async () => {
    let seed = 20_261_202
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    let kills = 0
    const started = Date.now()
    const totals = { runs: 0, lost: 0, reexecAfterCommit: 0, startsAfterCommit: 0, inflightReexec: 0 }
    // Runs one after another (each killed until it finishes) until 100 kills have landed.
    for (let r = 0; kills < 100; r++) {
      const runId = `random-${r}`
      const db = join(dir, 'random.db')
      const ledger = join(dir, `${runId}.ledger`)
      const args = [db, ledger, runId, '40', '50']
      const segments: ChildSegment[] = []
      for (;;) {
        segments.push({ offset: existsSync(ledger) ? statSync(ledger).size : 0, committed: await committedTasks(db, runId) })
        const exit = await runChild(args, { killAfterMs: Math.floor(random() * 250) })
        if (exit.signal === 'SIGKILL') kills++
        else if (exit.code === 0) break
        else throw new Error(`the child failed (exit ${exit.code}): ${exit.stderr}`)
      }
      const figures = await audit(db, ledger, runId, 2_000)
      totals.runs++
      totals.lost += figures.lost
      totals.reexecAfterCommit += figures.reexecAfterCommit
      totals.startsAfterCommit += startsAfterCommit(ledger, segments)
      totals.inflightReexec += figures.inflightReexec
    }
    process.stdout.write(`${JSON.stringify({ case: 'random-kills', backend: 'sqlite', N: 2_000, kills, ...totals, totalMs: Date.now() - started })}\n`)
    expect(kills).toBeGreaterThanOrEqual(100)
    expect(totals.lost).toBe(0)
    expect(totals.reexecAfterCommit).toBe(0)
    expect(totals.startsAfterCommit).toBe(0)
  }, 600_000)
})
