/**
 * An owner engine with a remote runner and workers, each on its own RabbitMQ transport handle
 * (its own connection, as separate processes would have), against the broker at `RABBITMQ_URL`
 * (default amqp://guest:guest@127.0.0.1:5672): the engine's semantics hold when every attempt and
 * report crosses RabbitMQ. Every name starts with `twtest-<random>`; what it leaves is deleted after.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import amqp from 'amqplib'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { TaskSpec } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import type { Worker } from 'taskweave/distributed'
import type { Transport } from 'taskweave/queues'
import { openRabbitTransport } from '../../src/queues/rabbitmq/index.js'

const URL_ = process.env['RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672'
const PREFIX = `twtest-${randomBytes(4).toString('hex')}`
const run = promisify(execFile)
const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  const list = async (what: string): Promise<string[]> => {
    try {
      const { stdout } = await run('rabbitmqctl', [what, 'name', '-q', '--no-table-headers'])
      return stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith(PREFIX))
    } catch {
      return []
    }
  }
  const connection = await amqp.connect(URL_)
  const channel = await connection.createChannel()
  for (const queue of await list('list_queues')) await channel.deleteQueue(queue)
  for (const exchange of await list('list_exchanges')) await channel.deleteExchange(exchange)
  await connection.close()
}, 60_000)

function open(): Promise<Transport> {
  return openRabbitTransport({ url: URL_, prefix: PREFIX })
}

/** Tools that say which worker ran them. */
function toolsFor(name: string, ledger: string[]) {
  const step = defineTool({
    name: 'step',
    input: z.object({ id: z.string(), n: z.number().optional() }),
    run: ({ id, n }) => {
      ledger.push(`${name}:${id}`)
      return { id, by: name, doubled: (n ?? 0) * 2 }
    },
  })
  const flaky = defineTool({
    name: 'flaky',
    input: z.object({ id: z.string() }),
    run: ({ id }, ctx) => {
      ledger.push(`${name}:${id}#${ctx.attempt}`)
      if (ctx.attempt === 1) throw new Error(`first attempt of ${id} fails`)
      return { attempt: ctx.attempt }
    },
  })
  const slow = defineTool({
    name: 'slow',
    input: z.object({ ms: z.number() }),
    run: async ({ ms }, ctx) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve({ slept: ms }), ms)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          ledger.push(`${name}:aborted:${(ctx.signal.reason as { code?: string }).code ?? 'none'}`)
          reject(ctx.signal.reason)
        })
      }),
  })
  return [step, flaky, slow]
}

async function setup(workers: { name: string; queues?: string[] }[], ledger: string[]) {
  const started: Worker[] = []
  const transports: Transport[] = []
  for (const w of workers) {
    const transport = await open()
    transports.push(transport)
    started.push(await startWorker({ transport, tools: toolsFor(w.name, ledger), builtins: false, worker: `${PREFIX}-${w.name}`, concurrency: 4, ...(w.queues ? { queues: w.queues } : {}) }))
  }
  const ownerTransport = await open()
  transports.push(ownerTransport)
  const runner = createRemoteRunner({ transport: ownerTransport, owner: `${PREFIX}-owner-${randomBytes(3).toString('hex')}`, queueOf: 'group' })
  await runner.listen()
  const engine = createEngine({ tools: toolsFor('owner', []), builtins: false, runner, concurrency: 16 })
  cleanups.push(async () => {
    await engine.close()
    for (const w of started) await w.close({ graceMs: 100 })
    for (const t of transports) await t.close()
  })
  return { engine }
}

describe('remote execution on RabbitMQ', () => {
  it('runs a layered DAG on two workers with every task run once and outputs passed along', async () => {
    const ledger: string[] = []
    const { engine } = await setup([{ name: 'w1' }, { name: 'w2' }], ledger)
    const tasks: TaskSpec[] = []
    for (let layer = 0; layer < 4; layer++) {
      for (let k = 0; k < 15; k++) {
        const id = `t${layer}_${k}`
        tasks.push({ id, tool: 'step', input: { id, n: k }, ...(layer > 0 ? { dependsOn: [`t${layer - 1}_${k}`, `t${layer - 1}_${(k + 1) % 15}`] } : {}) })
      }
    }
    tasks.push({ id: 'last', tool: 'step', input: { id: 'last', n: '{{ tasks.t3_3.output.doubled }}' as unknown as number }, dependsOn: ['t3_3'] })
    const result = await engine.run({ id: 'dag', tasks })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['last']?.output).toMatchObject({ doubled: 12 })
    const ran = ledger.map((line) => line.split(':')[1])
    expect(new Set(ran).size).toBe(61)
    expect(ran).toHaveLength(61)
    expect(ledger.some((line) => line.startsWith('w1:')) && ledger.some((line) => line.startsWith('w2:'))).toBe(true)
  }, 30_000)

  it("retries a failed attempt, and with queueOf 'group' sends a grouped task to the workers of its queue only", async () => {
    const ledger: string[] = []
    const { engine } = await setup([{ name: 'general' }, { name: 'llm-worker', queues: ['llm'] }], ledger)
    const result = await engine.run({
      id: 'mixed',
      tasks: [
        { id: 'f', tool: 'flaky', input: { id: 'f' }, retry: { maxAttempts: 2, initialDelay: '1ms' } },
        { id: 'a', tool: 'step', input: { id: 'a' }, group: 'llm' },
        { id: 'c', tool: 'step', input: { id: 'c' } },
      ],
    })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['f']?.attempts).toBe(2)
    expect(ledger.filter((l) => l.includes(':a'))).toEqual(['llm-worker:a'])
    expect(ledger.filter((l) => l.includes(':c'))).toEqual(['general:c'])
  }, 30_000)

  it("times out on the owner and aborts the worker's attempt through the cancel broadcast", async () => {
    const ledger: string[] = []
    const { engine } = await setup([{ name: 'w1' }], ledger)
    const result = await engine.run({ id: 'slow', tasks: [{ id: 's', tool: 'slow', input: { ms: 5000 }, timeout: '200ms' }] })
    expect(result.tasks['s']?.error?.code).toBe('TW_TIMEOUT')
    for (let k = 0; k < 100 && !ledger.includes('w1:aborted:TW_TIMEOUT'); k++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(ledger).toContain('w1:aborted:TW_TIMEOUT')
  }, 30_000)
})
