/**
 * A task marked `idempotent: false` must not run twice, whatever happens to the deliveries of its
 * attempt (in-process broker, real timers for the owner's reconciler): a refusal whose report is
 * lost goes back to the broker instead of being dropped (the reconciler would send it again as
 * new), and an attempt the reconciler finds lost with the worker that started it fails
 * `TW_UNCERTAIN` on the owner instead of going to another worker.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { AttemptRequest, AttemptSink } from 'taskweave/ports'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import { createMemoryBroker, createMemoryTransport } from 'taskweave/queues'
import type { Transport } from 'taskweave/queues'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('idempotent: false on workers', () => {
  it('a redelivery refused while reports cannot reach the owner stays on the broker until one does: the tool runs once', async () => {
    let calls = 0
    const charge = defineTool({ name: 'charge', idempotent: false, input: z.object({}), run: () => (calls++, 'charged') })
    const broker = createMemoryBroker()
    const base = createMemoryTransport({ broker })
    let lostOutcomes = 2
    // The worker's outcome reports fail twice: the first (the tool ran) and the refusal of its redelivery.
    const flaky = new Proxy(base, {
      get(target, prop, receiver) {
        if (prop === 'report') {
          return async (owner: string, report: Parameters<Transport['report']>[1]) => {
            if (report.kind === 'outcome' && lostOutcomes > 0) {
              lostOutcomes--
              throw new Error('report channel down')
            }
            return target.report(owner, report)
          }
        }
        const value: unknown = Reflect.get(target, prop, receiver)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    const runner = createRemoteRunner({ transport: createMemoryTransport({ broker }), reconcileEveryMs: 100 })
    await runner.listen()
    const worker = await startWorker({ transport: flaky, tools: [charge], builtins: false, worker: 'w1', heartbeatMs: 1000 })
    const engine = createEngine({ tools: [charge], builtins: false, runner })
    cleanups.push(() => runner.close(), () => worker.close(), () => engine.close())
    const result = await engine.run({ id: 'pay', tasks: [{ id: 'c', tool: 'charge', timeout: 5000 }] })
    expect(calls).toBe(1)
    expect(result.tasks['c']?.error?.code).toBe('TW_UNCERTAIN')
    expect(runner.stats().republished).toBe(0)
  })

  it('an attempt lost with the worker that started it (a session turn routed to it) fails TW_UNCERTAIN on the owner, not on another worker', async () => {
    const ledger: string[] = []
    const toolsFor = (name: string) => [
      defineTool({
        name: 'act',
        input: z.object({ n: z.number() }),
        run: ({ n }, ctx) =>
          new Promise((resolve, reject) => {
            ledger.push(`${name}:${n}`)
            const timer = setTimeout(() => resolve(n), n === 1 ? 10 : 500)
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer)
              reject(ctx.signal.reason)
            })
          }),
      }),
    ]
    const broker = createMemoryBroker()
    const runner = createRemoteRunner({ transport: createMemoryTransport({ broker }), reconcileEveryMs: 100, workerTimeoutMs: 300 })
    const w1 = await startWorker({ transport: createMemoryTransport({ broker }), tools: toolsFor('w1'), builtins: false, worker: 'w1', heartbeatMs: 50 })
    cleanups.push(() => runner.close())
    const request = (n: number): AttemptRequest => ({ runId: 'r', taskId: `t${n}`, attempt: 1, attemptId: `a${n}`, idempotencyKey: `k${n}`, tool: 'act', input: { n }, inputChecked: false, timeoutMs: 10_000, priority: 0, route: 'session-1', mustNotRepeat: true })
    const outcome = (n: number): Promise<string> =>
      new Promise((done) => {
        const sink = { progress: () => undefined, usage: () => undefined, limits: () => undefined, addTask: () => undefined, succeeded: () => done('ok'), failed: (err: unknown) => done((err as { code?: string }).code ?? 'failed') }
        runner.start(request(n), sink as unknown as AttemptSink)
      })
    expect(await outcome(1)).toBe('ok')
    const second = outcome(2)
    for (let k = 0; k < 200 && w1.stats().running === 0; k++) await new Promise((resolve) => setTimeout(resolve, 5))
    const w2 = await startWorker({ transport: createMemoryTransport({ broker }), tools: toolsFor('w2'), builtins: false, worker: 'w2', heartbeatMs: 50 })
    cleanups.push(() => w2.close())
    await w1.close({ graceMs: 10 })
    expect(await second).toBe('TW_UNCERTAIN')
    expect(ledger).toEqual(['w1:1', 'w1:2'])
  })
  it('an attempt that must not repeat, which the broker no longer holds and no worker reported on, fails TW_UNCERTAIN instead of going out again; an idempotent one goes out again', async () => {
    const broker = createMemoryBroker()
    const transport = createMemoryTransport({ broker })
    // A broker that lost what it held (a purged or deleted queue): nothing is held any more.
    const lost = new Proxy(transport, { get: (target, key, receiver) => (key === 'holds' ? async () => new Set<string>() : Reflect.get(target, key, receiver) as unknown) })
    const runner = createRemoteRunner({ transport: lost, reconcileEveryMs: 20 })
    cleanups.push(() => runner.close())
    const request = (n: number, mustNotRepeat: boolean): AttemptRequest => ({ runId: 'r', taskId: `t${n}`, attempt: 1, attemptId: `lost${n}`, idempotencyKey: `k${n}`, tool: 'act', input: { n }, inputChecked: false, timeoutMs: 10_000, priority: 0, mustNotRepeat })
    const failed = new Promise<string>((done) => {
      const sink = { progress: () => undefined, usage: () => undefined, limits: () => undefined, addTask: () => undefined, succeeded: () => done('ok'), failed: (err: unknown) => done((err as { code?: string }).code ?? 'failed') }
      runner.start(request(1, true), sink as unknown as AttemptSink)
    })
    const quiet = { progress: () => undefined, usage: () => undefined, limits: () => undefined, addTask: () => undefined, succeeded: () => undefined, failed: () => undefined }
    runner.start(request(2, false), quiet as unknown as AttemptSink)
    expect(await failed).toBe('TW_UNCERTAIN')
    for (let k = 0; k < 200 && runner.stats().republished === 0; k++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(runner.stats().republished).toBeGreaterThan(0)
  })
})
