/**
 * RELIABILITY CR-05, an uncertain outcome, with real processes: a checkout run charges five cards
 * through a loopback payment service that applies each `Idempotency-Key` once, and is killed
 * (SIGKILL at a crash point) after the charges went through and before their outcomes were
 * committed. Resumed with `onUncertain: retry`, every charge is sent again with the same key and
 * applied once; with `onUncertain: park`, nothing is sent again until an operator has recorded each
 * outcome with `taskweave resolve`, and the run then finishes from those decisions.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bin, ensureBuilt, root } from '../cli-bin.js'
import { openSqliteStore } from 'taskweave/stores/sqlite'

const CHILD = join(root, 'test/durable/payment-child.mjs')
const PAYMENTS = 5
let dir: string

/** The payment service: applies a charge once per Idempotency-Key and answers repeats with the same charge. */
class PaymentService {
  readonly applied = new Map<string, { chargeId: string; order: string; cents: number }>()
  requests = 0
  readonly server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      this.requests++
      const key = req.headers['idempotency-key']
      if (typeof key !== 'string' || key === '') {
        res.writeHead(400).end('{"error":"Idempotency-Key required"}')
        return
      }
      let charge = this.applied.get(key)
      if (charge === undefined) {
        const { order, cents } = JSON.parse(body) as { order: string; cents: number }
        charge = { chargeId: `ch_${this.applied.size + 1}`, order, cents }
        this.applied.set(key, charge)
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ chargeId: charge.chargeId }))
    })
  })
  url = ''
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    const address = this.server.address() as { port: number }
    this.url = `http://127.0.0.1:${address.port}/charges`
  }
}

interface ChildReport {
  readonly status: string
  readonly parked: string[]
  readonly outputs: Record<string, unknown>
}

function runChild(args: string[], env: Record<string, string> = {}): Promise<{ signal: NodeJS.Signals | null; report: ChildReport | undefined; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (_code, signal) => {
      clearTimeout(guard)
      const line = stdout.trim().split('\n').at(-1)
      resolve({ signal, report: line !== undefined && line.startsWith('{') ? (JSON.parse(line) as ChildReport) : undefined, stderr })
    })
  })
}

let service: PaymentService

beforeAll(async () => {
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-payment-'))
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Starts the checkout and kills it after the charges went out, before their outcomes were committed. */
async function chargeAndCrash(name: string, policy: 'retry' | 'park'): Promise<string[]> {
  service = new PaymentService()
  await service.start()
  const db = join(dir, `${name}.db`)
  const fired = join(dir, `${name}.fired`)
  const args = [db, name, policy, service.url, String(PAYMENTS)]
  // Append 1 holds the charges' starts (written before a non-idempotent tool runs); the next holds
  // the first outcomes: the process dies just before writing it, with charges applied.
  const crashed = await runChild(args, { TW_CRASHPOINT: 'journal.beforeAppend:2', TW_CRASHPOINT_FILE: fired })
  expect(crashed.signal).toBe('SIGKILL')
  expect(existsSync(fired) ? readFileSync(fired, 'utf8') : '').toContain('journal.beforeAppend:2')
  const stored = await openSqliteStore({ path: db })
  try {
    const entries = (await stored.load(name))?.entries ?? []
    // Every charge started; no outcome was committed.
    expect(entries.map((entry) => `${entry.kind}:${entry.taskId ?? ''}`).sort()).toEqual(Array.from({ length: PAYMENTS }, (_, k) => `start:pay${k + 1}`).sort())
  } finally {
    await stored.close()
  }
  expect(service.applied.size).toBeGreaterThan(0)
  return args
}

describe('an uncertain outcome after a crash (RELIABILITY CR-05, SQLite, real processes)', () => {
  it('onUncertain: retry sends every charge again with the same Idempotency-Key, and each is applied once', async () => {
    const args = await chargeAndCrash('cr05-retry', 'retry')
    const before = service.requests
    const resumed = await runChild(args)
    expect(resumed.report?.status).toBe('succeeded')
    const figures = { charges: service.applied.size, requests: service.requests, retries: service.requests - before, parked: resumed.report?.parked.length }
    // Every payment was charged exactly once, though some were sent twice.
    expect(figures.charges).toBe(PAYMENTS)
    expect(figures.retries).toBeGreaterThan(0)
    expect(new Set([...service.applied.values()].map((charge) => charge.order)).size).toBe(PAYMENTS)
    for (let k = 1; k <= PAYMENTS; k++) expect(resumed.report?.outputs[`receipt${k}`]).toMatch(/^receipt for ch_\d$/)
    service.server.close()
  }, 60_000)

  it('onUncertain: park sends nothing again: an operator records each outcome with taskweave resolve, and the run finishes from them', async () => {
    const args = await chargeAndCrash('cr05-park', 'park')
    const requestsAtCrash = service.requests
    // What the operator finds at the payment provider: the charges it applied, by task.
    const charged = new Map([...service.applied.entries()].map(([key, charge]) => [key.split('/').at(-1) as string, charge]))
    const parked = await runChild(args)
    expect(parked.report?.status).toBe('cancelled')
    // Every charge whose outcome was lost parked at once, in one resume, and none was sent again.
    const parkedTasks = [...(parked.report?.parked ?? [])].sort()
    expect(parkedTasks).toEqual(Array.from({ length: PAYMENTS }, (_, k) => `pay${k + 1}`).sort())
    expect(service.requests).toBe(requestsAtCrash)
    const env = { TASKWEAVE_STORE: `sqlite:${args[0] as string}` }
    let retried = 0
    for (const taskId of parkedTasks) {
      const charge = charged.get(taskId)
      const decision = charge !== undefined ? ['--succeeded', '--output', JSON.stringify({ chargeId: charge.chargeId })] : ['--retry', '--reason', 'no charge at the provider']
      if (charge === undefined) retried++
      const resolved = await bin(['resolve', 'cr05-park', taskId, ...decision], { cwd: dir, env })
      expect(resolved.stderr).toBe('')
      expect(resolved.code).toBe(0)
    }
    const finished = await runChild(args)
    expect(finished.report?.status).toBe('succeeded')
    const figures = { charges: service.applied.size, requests: service.requests, parked: parkedTasks.length, retried }
    expect(figures.charges).toBe(PAYMENTS)
    // Only the payments the provider had not charged were sent after the crash.
    expect(figures.requests).toBe(requestsAtCrash + retried)
    for (const [taskId, charge] of charged) expect(finished.report?.outputs[taskId.replace('pay', 'receipt')]).toBe(`receipt for ${charge.chargeId}`)
    service.server.close()
  }, 60_000)
})
