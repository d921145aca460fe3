/**
 * Skew between the owner and the workers on the Redis transport (RELIABILITY CK-02, the BullMQ
 * half): an owner in this process (the machine's clock) and `taskweave worker` processes whose
 * wall clocks run 10 min ahead and 10 min behind (libfaketime, preloaded into node).
 *
 * What decides who holds an attempt on Redis is server-side: BullMQ takes a job's lock with
 * `SET … PX lockDuration` (moveToActive, prepareJobForProcessing.lua) and renews it the same way
 * (extendLocks-1.lua); its stalled check moves back only jobs whose lock key is gone, once per
 * `stalledInterval`, guarded by a `PX` key (moveStalledJobsToWait-9.lua); the worker registry is
 * timed by Redis `TIME` (registry.ts). The clients' own timers are monotonic. So skew must not
 * make a worker lose a live attempt or keep a dead one's: checked here with a DAG both skewed
 * workers run at once (every task once, no stalled event, every lock a server TTL within the
 * lease), and with the worker 10 min behind (then the one 10 min ahead) killed while it holds a
 * long attempt (its lock goes by its TTL and the other worker takes the attempt over within the
 * lease bound).
 *
 * BullMQ does stamp jobs with the client's `Date.now()`: `timestamp` (whoever added the job),
 * `processedOn` (the claiming worker's), and the score of a delayed job, which is compared with
 * the `Date.now()` of whichever worker next claims from the queue (promoteDelayedJobs). The first two only skew
 * what they say (recorded below). The third is a defect of the transport: an attempt given back
 * by a worker (a handler that throws, as `taskweave worker` does when it cannot report an outcome)
 * goes through `job.moveToDelayed(Date.now() + delay)` (src/queues/redis/consumer.ts), so it is
 * due by the clock of the worker that gave it back. Given back by the worker 10 min ahead, workers
 * with a right or slow clock do not take it for 10 (20) min, and the owner's reconciler sees it
 * held ("delayed") and does not publish it again. The last case shows it as it is today.
 */
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from 'taskweave'
import type { AnyTool, TaskSpec } from 'taskweave'
import { createRemoteRunner } from 'taskweave/distributed'
import { createTransport } from 'taskweave/queues'
import type { Transport } from 'taskweave/queues'
import { ensureBuilt } from '../cli-bin.js'
import { FIXTURE_TOOLS, readLedger, removeBrokerLeftovers, startWorkerChild, stopWorkerChild } from './harness.js'
import type { LedgerLine, WorkerChild } from './harness.js'

const URL_ = process.env['TASKWEAVE_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379'
const SKEW_MS = 10 * 60_000
/** libfaketime for multi-threaded programs, preloaded into node itself (as test/durable/clock-jump.test.ts does). */
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/faketime/libfaketimeMT.so.1'].find((path) => existsSync(path))

/** Every name this file puts on Redis starts with it. */
const FILE_PREFIX = `twtest-ck02-${randomUUID().slice(0, 8)}`
let serial = 0

const redis = new Redis(URL_)
let dir = ''
let tools: AnyTool[]

beforeAll(async () => {
  if (LIBFAKETIME === undefined) throw new Error('libfaketime is not installed: apt-get install faketime (.ci/run installs it)')
  await ensureBuilt()
  dir = mkdtempSync(join(tmpdir(), 'tw-ck02-'))
  // The same module the workers load.
  const fixture = (await import(pathToFileURL(FIXTURE_TOOLS).href)) as { work: AnyTool }
  tools = [fixture.work]
}, 180_000)

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
}, 60_000)

/** A prefix for one test; its Redis keys go after everything else of the test has stopped. */
function newPrefix(): string {
  const prefix = `${FILE_PREFIX}-${++serial}`
  cleanups.push(() => removeBrokerLeftovers('redis', URL_, prefix))
  return prefix
}

afterAll(async () => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  await removeBrokerLeftovers('redis', URL_, FILE_PREFIX)
  redis.disconnect()
}, 60_000)

/** A `taskweave worker` whose wall clock is moved by `skew` (`+10m`, `-10m`), or the machine's (undefined). */
async function worker(prefix: string, ledger: string, name: string, skew: string | undefined, options: { concurrency: number; lease: string; extraArgs?: readonly string[] }): Promise<WorkerChild> {
  const started = await startWorkerChild({
    url: URL_,
    prefix,
    id: `${prefix}-${name}`,
    ledger,
    concurrency: options.concurrency,
    lease: options.lease,
    ...(options.extraArgs !== undefined ? { extraArgs: options.extraArgs } : {}),
    ...(skew !== undefined ? { extraEnv: { LD_PRELOAD: LIBFAKETIME as string, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: '1' } } : {}),
  })
  cleanups.push(() => stopWorkerChild(started, 5000))
  return started
}

/** The owner: an engine in this process with a remote runner on the prefix. */
async function owner(prefix: string, reconcileEveryMs: number) {
  const transport: Transport = await createTransport({ type: 'redis', url: URL_, prefix })
  const runner = createRemoteRunner({ transport, reconcileEveryMs })
  await runner.listen()
  const engine = createEngine({ tools, builtins: false, runner, concurrency: 64 })
  cleanups.push(async () => {
    await engine.close()
    await transport.close()
  })
  return { engine, runner, transport }
}

/** One active job of a queue at one instant: its lock's remaining TTL and BullMQ's client-clock stamps, against the server's time. */
interface ActiveJob {
  readonly jobId: string
  /** PTTL of its lock key (-2: no lock). */
  readonly lockTtlMs: number
  /** `processedOn` − the server's now: the claiming worker's skew (less the time since the claim). */
  readonly processedOffsetMs: number
  /** `processedOn` − `timestamp`: when the claiming worker says it claimed the job, against when whoever added it says it did. */
  readonly processedAfterAddedMs: number
}

/** Every active job of `work.default` and its lock, read in one script (one instant of the server). */
const ACTIVE_SNAPSHOT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. id
  out[#out + 1] = { id, redis.call('PTTL', key .. ':lock'), redis.call('HGET', key, 'processedOn') or '0', redis.call('HGET', key, 'timestamp') or '0' }
end
return { now, out }`

async function activeJobs(prefix: string): Promise<ActiveJob[]> {
  const base = `${prefix}:work.default:`
  const [now, rows] = (await redis.eval(ACTIVE_SNAPSHOT, 1, `${base}active`, base)) as [number, [string, number, string, string][]]
  return rows.map(([jobId, lockTtlMs, processedOn, timestamp]) => ({ jobId, lockTtlMs, processedOffsetMs: Number(processedOn) - now, processedAfterAddedMs: Number(processedOn) - Number(timestamp) }))
}

/** The `event` fields of the queue's BullMQ event stream (it keeps the last 10,000). */
async function bullEvents(prefix: string): Promise<string[]> {
  const entries = await redis.xrange(`${prefix}:work.default:events`, '-', '+')
  return entries.map(([, fields]) => fields[fields.indexOf('event') + 1] ?? '')
}

/** Ledger lines per task id. */
function byTask(lines: readonly LedgerLine[], phase: LedgerLine['phase']): Map<string, LedgerLine[]> {
  const map = new Map<string, LedgerLine[]>()
  for (const line of lines) if (line.phase === phase) map.set(line.taskId, [...(map.get(line.taskId) ?? []), line])
  return map
}

describe('CK-02 on Redis (BullMQ): workers 10 min ahead and 10 min behind the owner', () => {
  it('run a DAG of 200 short and 10 long tasks together: every task runs once, no live attempt is taken over, every lock is a server TTL', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    // Lease 3 s: BullMQ locks for 2.25 s, renews every 1.1 s, checks for stalled jobs every 0.75 s.
    // The long tasks (5 s) outlive the lock several times over: only renewals keep them.
    const LOCK_MS = 2250
    const t0 = Date.now()
    const [ahead, behind] = await Promise.all([worker(prefix, ledger, 'ahead', '+10m', { concurrency: 8, lease: '3s' }), worker(prefix, ledger, 'behind', '-10m', { concurrency: 8, lease: '3s' })])
    // A reconciler that looks every second: an attempt the broker had lost to skew would be published again (and counted).
    const { engine, runner } = await owner(prefix, 1000)
    const long = Array.from({ length: 10 }, (_, k): TaskSpec => ({ id: `long${k}`, tool: 'ledger.work', input: { n: k, ms: 5000 } }))
    // Two layers of 100: short100…199 each wait for one of short0…99.
    const short = Array.from({ length: 200 }, (_, k): TaskSpec => ({ id: `short${k}`, tool: 'ledger.work', input: { n: 100 + k, ms: 20 }, ...(k >= 100 ? { dependsOn: [`short${(k * 7) % 100}`] } : {}) }))
    const handle = engine.start({ id: 'skewed', tasks: [...long, ...short] })
    let finished = false
    const result = handle.result.finally(() => (finished = true))
    // While it runs, the active jobs and their locks, a few times a second.
    const snapshots: ActiveJob[][] = []
    while (!finished) {
      snapshots.push(await activeJobs(prefix))
      await Promise.race([result, delay(150)])
    }
    const outcome = await result
    const t1 = Date.now()

    expect(outcome.status).toBe('succeeded')
    expect(Object.keys(outcome.tasks)).toHaveLength(210)
    for (const task of Object.values(outcome.tasks)) expect(task).toMatchObject({ status: 'succeeded', attempts: 1 })

    const lines = readLedger(ledger)
    const starts = byTask(lines, 'start')
    const ends = byTask(lines, 'end')
    const pids = { ahead: ahead.child.pid, behind: behind.child.pid }
    // The clocks really are skewed: each worker's ledger times are its wall clock's.
    for (const line of lines) {
      const skew = line.pid === pids.ahead ? SKEW_MS : line.pid === pids.behind ? -SKEW_MS : NaN
      expect(line.at - skew).toBeGreaterThanOrEqual(t0 - 1000)
      expect(line.at - skew).toBeLessThanOrEqual(t1 + 1000)
    }
    // No dependent started before its dependency ended (each worker's times taken back to the machine's clock).
    const real = (line: LedgerLine | undefined): number => (line === undefined ? NaN : line.at - (line.pid === pids.ahead ? SKEW_MS : -SKEW_MS))
    const orderViolations = short.filter((t) => t.dependsOn !== undefined && !(real(starts.get(t.id)?.[0]) >= real(ends.get(t.dependsOn[0] as string)?.[0]))).length
    expect(orderViolations).toBe(0)
    // Every task ran exactly once and ended on the worker that started it: no duplicate, no takeover.
    const duplicated = [...starts.values()].filter((s) => s.length !== 1).length
    expect(starts.size).toBe(210)
    expect(duplicated).toBe(0)
    for (const [taskId, [start]] of starts) expect(ends.get(taskId)?.map((l) => l.pid)).toEqual([start?.pid])
    // Both workers ran work, and each held long attempts (no worker holds more than its 8).
    expect(new Set(lines.map((l) => l.pid))).toEqual(new Set([pids.ahead, pids.behind]))
    expect(new Set(long.map((t) => starts.get(t.id)?.[0]?.pid))).toEqual(new Set([pids.ahead, pids.behind]))

    // The broker never took an attempt off a worker: no stalled job, nothing published again, no report for an attempt given up on.
    const events = await bullEvents(prefix)
    expect(events.filter((e) => e === 'stalled')).toEqual([])
    expect(runner.stats()).toMatchObject({ inFlight: 0, republished: 0, stale: 0 })

    // Locks are timed by Redis: every active job, of either worker, held a lock whose TTL was within
    // the lock duration, however far its worker's clock was off (a client-clock expiry would be
    // 10 min long for one worker and past for the other).
    const all = snapshots.flat()
    expect(all.length).toBeGreaterThan(0)
    const ttls = all.map((j) => j.lockTtlMs)
    expect(Math.min(...ttls)).toBeGreaterThan(0)
    expect(Math.max(...ttls)).toBeLessThanOrEqual(LOCK_MS)
    // BullMQ's processedOn is the claiming worker's clock: 10 min ahead of the server for one worker,
    // 10 min behind for the other. Both held locks at the same instant.
    for (const job of all) expect(Math.abs(Math.abs(job.processedOffsetMs) - SKEW_MS)).toBeLessThan(15_000)
    expect(snapshots.some((s) => s.some((j) => j.processedOffsetMs > 0) && s.some((j) => j.processedOffsetMs < 0))).toBe(true)
    // A job's timestamp is the clock of whoever added it: the owner (a batch as published), or a
    // worker (the part of a batch it had no slot for, put back as jobs of its own). So BullMQ's
    // processedOn − timestamp ranges over about ±20 min here: recorded, not relied on by anything.
    const span = (jobs: readonly ActiveJob[]): [number, number] => [Math.min(...jobs.map((j) => j.processedAfterAddedMs)), Math.max(...jobs.map((j) => j.processedAfterAddedMs))]
    process.stdout.write(
      `${JSON.stringify({
        case: 'CK-02',
        backend: 'bull',
        N: 210,
        duplicated,
        orderViolations,
        prematureTakeovers: events.filter((e) => e === 'stalled').length,
        republished: runner.stats().republished,
        lockTtlMs: { min: Math.min(...ttls), max: Math.max(...ttls) },
        processedOnMinusTimestampMs: { ahead: span(all.filter((j) => j.processedOffsetMs > 0)), behind: span(all.filter((j) => j.processedOffsetMs < 0)) },
        ms: t1 - t0,
      })}\n`,
    )
  }, 60_000)

  // The brief's case is the worker behind killed; the worker ahead killed is the one a lock timed
  // by its own clock would keep for 10 min.
  it.each([
    { killed: 'behind', killedSkew: '-10m', survivor: 'ahead', survivorSkew: '+10m', sign: -1 },
    { killed: 'ahead', killedSkew: '+10m', survivor: 'behind', survivorSkew: '-10m', sign: 1 },
  ])('the worker $killedSkew is killed holding a long attempt: its lock goes by its TTL and the worker $survivorSkew takes the attempt over and finishes it', async ({ killed, killedSkew, survivor, survivorSkew, sign }) => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    // Lease 2 s: a lock of 1.5 s, renewed every 0.75 s, a stalled check every 0.5 s.
    const LOCK_MS = 1500
    const victim = await worker(prefix, ledger, killed, killedSkew, { concurrency: 1, lease: '2s' })
    const { engine, runner } = await owner(prefix, 1000)
    const handle = engine.start({ id: 'takeover', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms: 6000 } }] })
    const startsOfLong = (): LedgerLine[] => readLedger(ledger).filter((l) => l.phase === 'start' && l.taskId === 'long')
    await expect.poll(() => startsOfLong().length, { timeout: 15_000, interval: 20 }).toBe(1)
    const first = startsOfLong()[0] as LedgerLine
    expect(first.pid).toBe(victim.child.pid)
    // The other worker is up before the kill, as a live worker would be.
    const other = await worker(prefix, ledger, survivor, survivorSkew, { concurrency: 1, lease: '2s' })
    // Still running on the first worker (its lock renewed by then), under a lock Redis times.
    const [held] = await activeJobs(prefix)
    expect(readLedger(ledger).filter((l) => l.phase === 'end')).toEqual([])
    expect(held?.lockTtlMs).toBeGreaterThan(0)
    expect(held?.lockTtlMs).toBeLessThanOrEqual(LOCK_MS)
    expect(Math.abs((held?.processedOffsetMs ?? 0) - sign * SKEW_MS)).toBeLessThan(15_000)
    const lockKey = `${prefix}:work.default:${held?.jobId ?? '?'}:lock`

    victim.child.kill('SIGKILL')
    const killedAt = performance.now()
    await victim.exited
    // The dead worker's lock is not kept: it is gone once its TTL runs out.
    await expect.poll(() => redis.pttl(lockKey), { timeout: 10_000, interval: 25 }).toBe(-2)
    const lockGoneMs = performance.now() - killedAt
    // Taken over by the other worker: the same attempt, delivered again.
    await expect.poll(() => startsOfLong().length, { timeout: 20_000, interval: 25 }).toBe(2)
    const takeoverMs = performance.now() - killedAt
    const again = startsOfLong()[1] as LedgerLine
    expect(again.pid).toBe(other.child.pid)
    expect(again.attemptId).toBe(first.attemptId)
    expect(Math.abs(again.at - Date.now() + sign * SKEW_MS)).toBeLessThan(15_000)

    const outcome = await handle.result
    expect(outcome.status).toBe('succeeded')
    expect(outcome.tasks['long']?.attempts).toBe(1)
    expect(readLedger(ledger).filter((l) => l.phase === 'end').map((l) => l.pid)).toEqual([other.child.pid])
    expect((await bullEvents(prefix)).filter((e) => e === 'stalled')).toHaveLength(1)
    expect(runner.stats()).toMatchObject({ inFlight: 0, republished: 0 })
    process.stdout.write(`${JSON.stringify({ case: 'CK-02', backend: 'bull', killed: `worker ${killedSkew}`, lockGoneMs: Math.round(lockGoneMs), recoveryMs: Math.round(takeoverMs) })}\n`)
    // The lock lasted no longer than its TTL after the kill, and the takeover came within the lease
    // (2 s) and a stalled check, with room for a busy machine.
    expect(lockGoneMs).toBeLessThan(LOCK_MS + 2000)
    expect(takeoverMs).toBeLessThan(10_000)
  }, 60_000)

  it('an attempt given back by the worker 10 min ahead goes straight back to the queue, and a worker with another clock runs it at once', async () => {
    const prefix = newPrefix()
    const ledger = join(dir, `${prefix}.jsonl`)
    // A long grace: the attempt ends (and is given back) inside the drain, not forced back by it.
    const ahead = await worker(prefix, ledger, 'ahead', '+10m', { concurrency: 1, lease: '2s', extraArgs: ['--grace', '20s'] })
    const { engine, runner } = await owner(prefix, 1000)
    // The owner's report channel refuses writes (a key of another type): the worker cannot report
    // the outcome, so its handler throws and the transport gives the attempt back, "at once".
    const reports = `${prefix}:tw-reports:${runner.owner}`
    await redis.set(reports, 'not a stream')
    const handle = engine.start({ id: 'given-back', tasks: [{ id: 'long', tool: 'ledger.work', input: { n: 1, ms: 500 } }] })
    const startsOfLong = (): LedgerLine[] => readLedger(ledger).filter((l) => l.phase === 'start' && l.taskId === 'long')
    await expect.poll(() => startsOfLong().length, { timeout: 15_000, interval: 20 }).toBe(1)
    // Drained, it finishes the attempt, fails to report it, gives it back and exits.
    ahead.child.kill('SIGTERM')
    expect(await ahead.exited).toEqual({ code: 0, signal: null })
    expect(ahead.stderr()).toMatch(/stopped: 0 succeeded, 0 failed, 1 returned to the broker/)
    await redis.del(reports)
    // Not into BullMQ's delayed set, due by the giving worker's clock (10 min from now; it was).
    expect(await redis.zcard(`${prefix}:work.default:delayed`)).toBe(0)

    // Workers with the machine's clock and 10 min behind take it at once.
    const [right, behind] = await Promise.all([worker(prefix, ledger, 'right', undefined, { concurrency: 1, lease: '2s' }), worker(prefix, ledger, 'behind', '-10m', { concurrency: 1, lease: '2s' })])
    const t0 = Date.now()
    expect((await handle.result).status).toBe('succeeded')
    expect(Date.now() - t0).toBeLessThan(10_000)
    const starts = startsOfLong()
    expect(starts).toHaveLength(2)
    expect([right.child.pid, behind.child.pid]).toContain(starts[1]?.pid)
    process.stdout.write(`${JSON.stringify({ case: 'CK-02', backend: 'bull', givenBack: 'to the queue, no clock', skew: '+10m', rerunMs: Date.now() - t0 })}\n`)
  }, 60_000)
})
