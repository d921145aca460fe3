import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../src/engine/engine.js'
import { defineAgent } from '../src/agents/index.js'
import type { ValidationError } from '../src/core/errors.js'
import { sleep } from '../src/core/clock.js'
import { defineTool } from '../src/core/tool.js'
import { ManualClock } from '../src/testing/manual-clock.js'
import { createRemoteRunner, startWorker } from '../src/distributed/index.js'
import { createMemoryBroker, createMemoryTransport } from '../src/queues/index.js'

function chatAgent() {
  let created = 0
  const agent = defineAgent({
    name: 'chat',
    input: z.object({ message: z.string() }),
    create: (sessionId) => ({ sessionId, serial: ++created, history: [] as string[] }),
    execute: (instance, { message }) => {
      instance.history.push(message)
      return { reply: `${instance.sessionId}#${instance.serial}: ${instance.history.join(' / ')}` }
    },
  })
  return { agent, created: () => created }
}

describe('agent tasks in workflows', () => {
  it('runs tasks that name an agent, reusing the instance of their session', async () => {
    const { agent, created } = chatAgent()
    await using engine = createEngine({ agents: [agent], builtins: false })
    const result = await engine.run(
      {
        id: 'chat',
        inputs: { user: { type: 'string' } },
        tasks: [
          { id: 'hello', agent: 'chat', session: '{{ inputs.user }}', input: { message: 'hello' } },
          { id: 'again', agent: 'chat', session: '{{ inputs.user }}', input: { message: '{{ tasks.hello.output.reply }}' } },
          { id: 'other', agent: 'chat', session: 'someone-else', input: { message: 'hi' } },
          { id: 'default', agent: 'chat', input: { message: 'no session' } },
        ],
      },
      { inputs: { user: 'ada' } },
    )
    expect(result.status).toBe('succeeded')
    expect(result.tasks['again']!.output).toEqual({ reply: 'ada#1: hello / ada#1: hello' })
    expect(result.tasks['other']!.output).toEqual({ reply: expect.stringMatching(/^someone-else#\d: hi$/) })
    expect(result.tasks['default']!.output).toEqual({ reply: expect.stringMatching(new RegExp(`^${result.runId}#\\d: no session$`)) })
    expect(created()).toBe(3)
    expect(result.tasks['hello']!.tool).toBe('agent.chat')
    expect(engine.agents!.health().activeInstances).toBe(3)
  })

  it('reports unknown agents, bad static input and a task with both a tool and an agent', async () => {
    const { agent } = chatAgent()
    await using engine = createEngine({ agents: [agent], builtins: false })
    let error: ValidationError | undefined
    try {
      engine.compile({
        id: 'bad',
        tasks: [
          { id: 'a', agent: 'caht', input: { message: 'x' } },
          { id: 'b', agent: 'chat', input: { message: 42 } },
          { id: 'c', agent: 'chat', tool: 'x.y' },
        ],
      })
    } catch (err) {
      error = err as ValidationError
    }
    expect(error?.issues.map((i) => `${i.taskId} ${i.field}: ${i.message}`)).toEqual([
      'a tasks[0].agent: unknown agent "caht"; did you mean "chat"?',
      expect.stringMatching(/^b tasks\[1\]\.input\.message: input rejected by agent "chat": /),
      'c tasks[2]: a task names either a tool or an agent, not both',
    ])
  })
})

describe('agent tasks under the engine-wide limiter', () => {
  it('does not count the wait for a session against the timeout, nor hold a slot while waiting', async () => {
    const clock = new ManualClock()
    const order: string[] = []
    const agent = defineAgent({
      name: 'slow',
      input: z.object({ n: z.number() }),
      create: () => ({}),
      execute: async (_instance, { n }, ctx) => {
        order.push(`start ${n}`)
        await sleep(clock, 100, ctx.signal)
        return n
      },
    })
    const quick = defineTool({ name: 'quick', input: z.object({}), run: () => (order.push('quick'), 'q') })
    await using engine = createEngine({ agents: [agent], tools: [quick], builtins: false, clock, concurrency: 4 })
    const tasks = [1, 2, 3, 4].map((n) => ({ id: `s${n}`, agent: 'slow', session: 'one', input: { n }, timeout: '250ms', priority: 10 - n }))
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: [...tasks, { id: 'free', tool: 'quick', priority: -5 }] }))
    expect(result.status).toBe('succeeded')
    // The session runs one execution at a time, in priority order; the unrelated task did not wait for them.
    expect(order.filter((e) => e !== 'quick')).toEqual(['start 1', 'start 2', 'start 3', 'start 4'])
    expect(order.indexOf('quick')).toBeLessThan(order.indexOf('start 2'))
    expect(result.tasks['s4']?.output).toBe(4)
  })
})

describe('an agent execution that ignores its signal after its task timed out', () => {
  it('keeps the session\'s turn until it returns: the next task of the session neither overlaps it nor spends its timeout behind it', async () => {
    const clock = new ManualClock()
    let inFlight = 0
    let most = 0
    const release = new Map<number, () => void>()
    const agent = defineAgent({
      name: 'stubborn',
      input: z.object({ n: z.number() }),
      create: () => ({}),
      // Ignores ctx.signal: returns only when the test lets it.
      execute: async (_instance, { n }) => {
        inFlight++
        most = Math.max(most, inFlight)
        await new Promise<void>((resolve) => release.set(n, resolve))
        inFlight--
        return n
      },
    })
    await using engine = createEngine({ agents: [agent], builtins: false, clock })
    const handle = engine.start({
      id: 'w',
      tasks: [
        { id: 'first', agent: 'stubborn', session: 'one', input: { n: 1 }, timeout: '50ms' },
        { id: 'second', agent: 'stubborn', session: 'one', input: { n: 2 }, timeout: '50ms', dependsOn: [], priority: -1 },
      ],
    })
    const flush = async (): Promise<void> => {
      for (let k = 0; k < 30; k++) await Promise.resolve()
    }
    await flush()
    clock.advance(50)
    await flush()
    expect(handle.taskStatus('first')).toBe('failed')
    // The first execution still runs: the second has not started, and its timeout is not running.
    expect(release.has(2)).toBe(false)
    clock.advance(500)
    await flush()
    expect(release.has(2)).toBe(false)
    release.get(1)?.()
    await flush()
    expect(release.has(2)).toBe(true)
    clock.advance(10)
    release.get(2)?.()
    const result = await handle.result
    expect(result.tasks['first']?.error?.code).toBe('TW_TIMEOUT')
    expect(result.tasks['second']?.status).toBe('succeeded')
    expect(most).toBe(1)
  })
})

describe('concurrency-safe agents in workflows', () => {
  it('lets executions of one session overlap when the agent is concurrentSafe', async () => {
    let inFlight = 0
    let most = 0
    const agent = defineAgent({
      name: 'safe',
      concurrentSafe: true,
      input: z.object({}),
      create: () => ({}),
      execute: async () => {
        inFlight++
        most = Math.max(most, inFlight)
        await new Promise((resolve) => setImmediate(resolve))
        inFlight--
        return 'ok'
      },
    })
    await using engine = createEngine({ agents: [agent], builtins: false })
    const result = await engine.run({ id: 'w', tasks: [1, 2, 3].map((n) => ({ id: `t${n}`, agent: 'safe', session: 'one' })) })
    expect(result.status).toBe('succeeded')
    expect(most).toBe(3)
  })
})

describe("the agent pool's places in the engine's limiter", () => {
  it('serves waiting executions by priority and shows them in engine.stats()', async () => {
    const order: string[] = []
    const gates = new Map<string, () => void>()
    const agent = defineAgent({
      name: 'worker',
      input: z.object({ name: z.string() }),
      create: () => ({}),
      execute: (_instance, { name }) => {
        order.push(name)
        return new Promise<string>((resolve) => gates.set(name, () => resolve(name)))
      },
    })
    await using engine = createEngine({ agents: [agent], builtins: false, agentPool: { maxConcurrent: 1 } })
    const pool = engine.agents!
    const first = pool.execute('worker', 's1', { name: 'first' })
    await new Promise((resolve) => setImmediate(resolve))
    const low = pool.execute('worker', 's2', { name: 'low' }, { priority: 1 })
    const high = pool.execute('worker', 's3', { name: 'high' }, { priority: 9 })
    await new Promise((resolve) => setImmediate(resolve))
    const keys = engine.stats().keys
    expect(keys.filter((k) => k.key.startsWith('agents:'))).toEqual([expect.objectContaining({ inUse: 1, waiting: 2 })])
    // Each execution holds its session's turn, a permit of the same limiter.
    expect(keys.filter((k) => k.key.startsWith('session:')).map((k) => k.key).sort()).toEqual(['session:worker#s1', 'session:worker#s2', 'session:worker#s3'])
    for (const name of ['first', 'high', 'low']) {
      gates.get(name)?.()
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all([first, low, high])
    expect(order).toEqual(['first', 'high', 'low'])
  })
})

describe('agent tasks with stream: true (the seed 002 path: stream_execute → chunks to the client)', () => {
  const writer = defineAgent({
    name: 'writer',
    input: z.object({ words: z.array(z.string()) }),
    create: () => ({}),
    execute: (_instance, { words }) => ({ text: words.join(' '), via: 'execute' }),
    async *stream(_instance, { words }) {
      for (const word of words) yield word
      return { text: words.join(' '), via: 'stream' }
    },
  })

  it("runs the agent's stream(): each chunk is a task:progress event as it comes, the output is its return value", async () => {
    await using engine = createEngine({ agents: [writer], builtins: false })
    const handle = engine.start({
      id: 'write',
      tasks: [
        { id: 'streamed', agent: 'writer', stream: true, input: { words: ['taskweave', 'streams', 'chunks'] } },
        { id: 'whole', agent: 'writer', input: { words: ['one', 'answer'] } },
      ],
    })
    const chunks: { taskId: string; message: string | undefined; data: unknown }[] = []
    handle.on('task:progress', (event) => void chunks.push({ taskId: event.taskId, message: event.progress.message, data: event.progress.data }))
    const result = await handle.result
    expect(result.status).toBe('succeeded')
    expect(chunks).toEqual(['taskweave', 'streams', 'chunks'].map((data) => ({ taskId: 'streamed', message: 'delta', data })))
    expect(result.tasks['streamed']!.output).toEqual({ text: 'taskweave streams chunks', via: 'stream' })
    expect(result.tasks['whole']!.output).toEqual({ text: 'one answer', via: 'execute' })
  })

  it('carries the chunks from a worker on a queue to the engine that owns the run', async () => {
    const broker = createMemoryBroker()
    const worker = await startWorker({ transport: createMemoryTransport({ broker }), agents: [writer], builtins: false, worker: 'w1', heartbeatMs: 200 })
    const runner = createRemoteRunner({ transport: createMemoryTransport({ broker }) })
    await runner.listen()
    try {
      await using engine = createEngine({ agents: [writer], builtins: false, runner })
      const handle = engine.start({ id: 'write', tasks: [{ id: 'streamed', agent: 'writer', stream: true, input: { words: ['from', 'a', 'worker'] } }] })
      const chunks: unknown[] = []
      handle.on('task:progress', (event) => void chunks.push(event.progress.data))
      const result = await handle.result
      expect(result.tasks['streamed']!.output).toEqual({ text: 'from a worker', via: 'stream' })
      expect(chunks).toEqual(['from', 'a', 'worker'])
      expect(worker.stats().completed).toBe(1)
    } finally {
      await worker.close()
      await runner.close()
    }
  })

  it('chunks are plain data, as a remote worker would carry them: a Date arrives as its text, a BigInt fails the task', async () => {
    const odd = defineAgent({
      name: 'odd',
      input: z.object({ big: z.boolean() }),
      create: () => ({}),
      execute: () => 'never',
      async *stream(_instance, { big }) {
        yield new Date(0)
        if (big) yield 1n
        return 'done'
      },
    })
    await using engine = createEngine({ agents: [odd], builtins: false })
    const handle = engine.start({ id: 'odd', tasks: [{ id: 'date', agent: 'odd', stream: true, input: { big: false } }, { id: 'big', agent: 'odd', stream: true, input: { big: true } }] })
    const chunks: unknown[] = []
    handle.on('task:progress', (event) => void (event.taskId === 'date' && chunks.push(event.progress.data)))
    const result = await handle.result
    expect(chunks).toEqual(['1970-01-01T00:00:00.000Z'])
    expect(result.tasks['date']!.status).toBe('succeeded')
    expect(result.tasks['big']!.error).toMatchObject({ code: 'TW_OUTPUT_NOT_SERIALIZABLE', message: expect.stringContaining('agent "odd" streamed a chunk that is not plain data') as unknown })
  })

  it('refuses stream on a tool task, naming the field', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({}), run: () => 1 })
    await using engine = createEngine({ tools: [echo], builtins: false })
    expect(() => engine.compile({ id: 'w', tasks: [{ id: 't', tool: 'echo', stream: true }] })).toThrow(/task "t" tasks\[0\]\.stream: stream applies to agent tasks/)
  })
})
