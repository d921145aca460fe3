/**
 * RELIABILITY BR-07 on the real broker: an attempt that runs longer than RabbitMQ's
 * `consumer_timeout`. The broker's timeout is lowered to 30 s for this file (and set back after; longer than any other test holds a delivery, since test files share the broker);
 * RabbitMQ checks it on its channel tick, about once a minute, so an attempt of 75 s meets it at
 * least once. With claims (`claimAfterMs`) the worker acknowledges the attempt after 2 s and runs
 * it to the end: delivered once, run once. Beside it, a worker that never claims shows what the
 * timeout does: the broker closes its channel with PRECONDITION_FAILED and delivers the attempt
 * again (that worker then waits for the run it has rather than starting another; another worker
 * would run it twice). This is what makes the claim's test able to fail.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { AnyTool } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import { createTransport } from 'taskweave/queues'
import type { AttemptDelivery, Transport, TransportConsumeOptions } from 'taskweave/queues'
import { removeBrokerLeftovers } from './harness.js'

const URL = 'amqp://guest:guest@127.0.0.1:5672'
const FILE_PREFIX = `twtest-${randomUUID().slice(0, 8)}`
const TASK_MS = 75_000
const execFileAsync = promisify(execFile)

async function rabbitEval(expression: string): Promise<string> {
  const { stdout } = await execFileAsync('rabbitmqctl', ['eval', expression])
  return stdout.trim()
}

let previousTimeout = 'undefined'

beforeAll(async () => {
  previousTimeout = await rabbitEval('application:get_env(rabbit, consumer_timeout).')
  // Channels opened from now on take it (the workers below open theirs after).
  await rabbitEval('application:set_env(rabbit, consumer_timeout, 30000).')
}, 30_000)

afterAll(async () => {
  const previous = /^\{ok,(\d+)\}$/.exec(previousTimeout)
  await rabbitEval(previous !== null ? `application:set_env(rabbit, consumer_timeout, ${previous[1]}).` : 'application:unset_env(rabbit, consumer_timeout).')
  await removeBrokerLeftovers('rabbitmq', URL, FILE_PREFIX)
}, 60_000)

function longTool(starts: number[]): AnyTool {
  return defineTool({
    name: 'long.wait',
    input: z.object({}),
    run: async (_input, ctx) => {
      starts.push(Date.now())
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, TASK_MS)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(ctx.signal.reason)
        })
      })
      return { ok: true }
    },
  })
}

/** `transport` with each delivery's count noted in `deliveries` as its worker receives it. */
function noting(transport: Transport, deliveries: number[]): Transport {
  return new Proxy(transport, {
    get(target, property) {
      if (property === 'consume') {
        return (handler: (d: AttemptDelivery) => Promise<void>, options: TransportConsumeOptions) =>
          target.consume((delivery) => {
            deliveries.push(delivery.deliveries)
            return handler(delivery)
          }, options)
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

async function setup(prefix: string, claimAfterMs: number, starts: number[], deliveries: number[]) {
  const tools = [longTool(starts)]
  const opened: Transport[] = []
  const open = async (extra: { claimAfterMs?: number } = {}): Promise<Transport> => {
    const t = await createTransport({ type: 'rabbitmq', url: URL, prefix, ...extra })
    opened.push(t)
    return t
  }
  const worker = await startWorker({ transport: noting(await open({ claimAfterMs }), deliveries), tools, builtins: false, concurrency: 1 })
  const runner = createRemoteRunner({ transport: await open(), reconcileEveryMs: 1000 })
  await runner.listen()
  const engine = createEngine({ tools, builtins: false, runner })
  return {
    engine,
    async close() {
      await engine.close()
      await worker.close({ graceMs: 0 })
      for (const t of opened) await t.close()
    },
  }
}

it('an attempt longer than consumer_timeout is delivered once and runs once on a worker that claims it; without the claim the broker delivers it again', async () => {
  const claimedStarts: number[] = []
  const claimedDeliveries: number[] = []
  const unclaimedDeliveries: number[] = []
  const claimed = await setup(`${FILE_PREFIX}-claims`, 2000, claimedStarts, claimedDeliveries)
  const unclaimed = await setup(`${FILE_PREFIX}-none`, 0, [], unclaimedDeliveries)
  try {
    const control = new AbortController()
    const controlRun = unclaimed.engine.run({ id: 'no-claims', tasks: [{ id: 'long', tool: 'long.wait' }] }, { signal: control.signal })
    const result = await claimed.engine.run({ id: 'claims', tasks: [{ id: 'long', tool: 'long.wait' }] })
    expect(result.status).toBe('succeeded')
    expect(claimedStarts).toHaveLength(1)
    expect(claimedDeliveries).toEqual([1])
    // The broker meets its timeout on the control worker's channel (at its next tick, within about
    // a minute of the timeout) and delivers the attempt again.
    const deadline = Date.now() + 60_000
    while (!unclaimedDeliveries.some((d) => d >= 2) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250))
    expect(unclaimedDeliveries.some((d) => d >= 2)).toBe(true)
    control.abort()
    await controlRun
  } finally {
    await claimed.close()
    await unclaimed.close()
  }
}, 200_000)
