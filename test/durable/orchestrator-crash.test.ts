/**
 * WorkflowOrchestrator's checkpointing with a real process (RELIABILITY.md CR-02, seed 003's
 * "checkpointing and resumption of parallel workflows"): a child runs an orchestrator workflow on
 * SQLite whose completion handler adds 31 tasks, is killed with SIGKILL mid-run, and a second
 * child resumes it with `resumeWorkflow`. The agents' ledger is the oracle: nothing whose outcome
 * was committed starts again, every task ends, and the added tasks' data comes back as written.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStore } from 'taskweave/stores/sqlite'
import { ensureBuilt, root } from '../cli-bin.js'

const CHILD = join(root, 'test/durable/orchestrator-child.mjs')

let dir: string
beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-orchestrator-crash-'))
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface LedgerLine {
  readonly taskId: string
  readonly pid: number
  readonly phase: 'start' | 'end'
}

/** The ledger's lines (a SIGKILL may tear the last one: a torn line is left out). */
function ledger(file: string): LedgerLine[] {
  if (!existsSync(file)) return []
  const lines: LedgerLine[] = []
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    try {
      lines.push(JSON.parse(raw) as LedgerLine)
    } catch {
      // torn by the kill, or empty
    }
  }
  return lines
}

/** Runs the child; with `killAfterEnds`, SIGKILLs it once the ledger holds that many ends. */
function runChild(args: string[], ledgerFile: string, killAfterEnds?: number): Promise<{ signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const watch =
      killAfterEnds === undefined
        ? undefined
        : setInterval(() => {
            if (ledger(ledgerFile).filter((line) => line.phase === 'end').length >= killAfterEnds) child.kill('SIGKILL')
          }, 2)
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (_code, signal) => {
      if (watch !== undefined) clearInterval(watch)
      clearTimeout(guard)
      resolve({ signal, stdout, stderr })
    })
  })
}

describe('WorkflowOrchestrator: killed mid-run, resumed by the next process', () => {
  it('loses no task, starts none whose outcome was committed, and gives added tasks their data back', async () => {
    const db = join(dir, 'runs.db')
    const ledgerFile = join(dir, 'ledger.jsonl')
    const killed = await runChild([db, ledgerFile, 'start'], ledgerFile, 12)
    expect(killed.signal, killed.stderr).toBe('SIGKILL')
    const firstPid = ledger(ledgerFile)[0]?.pid

    // What the store says is done, read between the two processes.
    const store = await openSqliteStore({ path: db })
    const stored = await store.load('nightly-1')
    await store.close()
    expect(stored?.status).toBe('running')
    const committed = new Set((stored?.entries ?? []).filter((entry) => entry.kind === 'ok').map((entry) => entry.taskId))
    expect(committed.has('plan')).toBe(true)
    expect(committed.size).toBeLessThan(32)

    const resumed = await runChild([db, ledgerFile, 'resume'], ledgerFile)
    expect(resumed.signal, resumed.stderr).toBeNull()
    const out = JSON.parse(resumed.stdout.trim().split('\n').pop() as string) as { status: string; results: Record<string, unknown>; handlerErrors: unknown[] }
    expect(out.status).toBe('succeeded')
    expect(out.handlerErrors).toEqual([])
    expect(Object.keys(out.results)).toHaveLength(32)
    for (let k = 0; k < 30; k++) expect(out.results[`fetch_${k}`]).toEqual({ source: `{{ source ${k} }}` })
    expect(out.results['merge']).toEqual({ merged: 30 })

    const lines = ledger(ledgerFile)
    const startedAgain = lines.filter((line) => line.pid !== firstPid && line.phase === 'start').map((line) => line.taskId)
    expect(startedAgain.filter((taskId) => committed.has(taskId))).toEqual([])
    // Every task ended in one process or the other; the resumed process did the rest.
    const ended = new Set(lines.filter((line) => line.phase === 'end').map((line) => line.taskId))
    expect(ended.size).toBe(32)
    expect(startedAgain.length).toBeGreaterThan(0)
  }, 90_000)
})
