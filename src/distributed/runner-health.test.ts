import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import type { Transport } from '../core/transport.js'
import { createEngine } from '../engine/engine.js'
import { createMemoryBroker } from '../queues/memory/broker.js'
import { createMemoryTransport } from '../queues/memory/transport.js'
import { ManualClock } from '../testing/manual-clock.js'
import { defineTool } from '../core/tool.js'
import { createRemoteRunner } from './remote-runner.js'
import { startWorker } from './worker.js'

const T0 = 1_800_000_000_000
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A memory transport whose publish throws `refusal` while it is set. */
function refusing(inner: Transport): { readonly transport: Transport; refusal: TaskweaveError | undefined } {
  const state: { transport: Transport; refusal: TaskweaveError | undefined } = { transport: inner, refusal: undefined }
  state.transport = {
    type: inner.type,
    publish: async (envelopes) => {
      if (state.refusal !== undefined) throw state.refusal
      return inner.publish(envelopes)
    },
    consume: (handler, options) => inner.consume(handler, options),
    report: (owner, report) => inner.report(owner, report),
    receive: (owner, handler) => inner.receive(owner, handler),
    removeOwner: (owner) => inner.removeOwner(owner),
    cancel: (attemptId, reason) => inner.cancel(attemptId, reason),
    onCancel: (handler) => inner.onCancel(handler),
    holds: (attemptIds) => inner.holds(attemptIds),
    announce: (info) => inner.announce(info),
    workers: (options) => inner.workers(options),
    stats: () => inner.stats(),
    close: () => inner.close(),
  }
  return state
}

const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: ({ n }) => n })
const one = (n: number) => ({ id: 'one', tasks: [{ id: 'a', tool: 'echo', input: { n } }] })

async function turns(n = 20): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

async function setup() {
  const clock = new ManualClock(0, T0)
  const broker = createMemoryBroker({ clock })
  const owner = refusing(createMemoryTransport({ broker }))
  const workerSide = createMemoryTransport({ broker })
  const worker = await startWorker({ transport: workerSide, tools: [echo], builtins: false, worker: 'w', concurrency: 4, clock })
  const runner = createRemoteRunner({ transport: owner.transport, clock, reconcileEveryMs: 1000 })
  const engine = createEngine({ tools: [echo], builtins: false, runner, clock })
  cleanups.push(() => workerSide.close(), () => worker.close({ graceMs: 0 }), () => engine.close())
  return { clock, owner, runner, engine }
}

describe('RemoteAttemptRunner.health()', () => {
  it('is not ok from the first refused publish until an attempt goes out, across retries and reconciler rounds; since says when it began and when it ended', async () => {
    const { clock, owner, runner, engine } = await setup()
    expect(runner.health()).toMatchObject({ ok: true })
    owner.refusal = new TaskweaveError('TW_TRANSPORT', 'publish refused: the broker blocks publishing (memory alarm)', { retryable: true })
    const handle = engine.start(one(1))
    await turns()
    expect(runner.health()).toEqual({ ok: false, since: T0, problem: 'publishing attempts fails: publish refused: the broker blocks publishing (memory alarm)' })
    // Retries (100 ms, doubling, at most 5 s) and reconciler rounds (every second) change nothing of it.
    for (let k = 0; k < 60; k++) {
      clock.advance(500)
      await turns(5)
      expect(runner.health(), `after ${clock.now()} ms`).toMatchObject({ ok: false, since: T0 })
    }
    owner.refusal = undefined
    while (handle.taskStatus('a') !== 'succeeded') {
      clock.advanceToNext()
      await turns(5)
    }
    const health = runner.health()
    expect(health.ok).toBe(true)
    expect(health.since).toBeGreaterThan(T0 + 30_000)
    expect((await handle.result).status).toBe('succeeded')
  })

  it('is ok again once the attempts it could not publish are cancelled', async () => {
    const { owner, runner, engine } = await setup()
    owner.refusal = new TaskweaveError('TW_TRANSPORT', 'the broker cannot be reached', { retryable: true })
    const handle = engine.start(one(2))
    await turns()
    expect(runner.health().ok).toBe(false)
    handle.cancel('no broker')
    expect((await handle.result).status).toBe('cancelled')
    expect(runner.health().ok).toBe(true)
  })

  it('fails the attempts a refusal the transport calls final is about, instead of trying for ever', async () => {
    const { owner, runner, engine } = await setup()
    owner.refusal = new TaskweaveError('TW_TRANSPORT', 'the attempt cannot be encoded', { retryable: false })
    const result = await engine.run(one(3))
    expect(result.status).toBe('failed')
    expect(result.tasks['a']?.error).toMatchObject({ code: 'TW_TRANSPORT', message: 'the attempt cannot be encoded' })
    expect(runner.health().ok).toBe(true)
  })
})
