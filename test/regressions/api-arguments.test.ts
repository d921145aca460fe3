/**
 * Arguments of the wrong kind given to the public API are refused where they are given, with a
 * coded error naming the option, instead of being taken as given (a concurrency of "4", a
 * ManualClock at NaN) or failing later as a bare TypeError; two live runs cannot share an id; a
 * closing engine says which tool calls it left running; a wait for a background result can be
 * given up with a signal.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineAgent, defineTool, deserializeError, MemoryRunStore, sleep } from 'taskweave'
import { ConcurrentExecutor } from 'taskweave/background'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import { createMemoryQueue } from 'taskweave/queues'
import { startServer } from 'taskweave/server'
import { ManualClock } from 'taskweave/testing'

/** The code and message of what `make` throws (or rejects with). */
async function refusal(make: () => unknown): Promise<string> {
  try {
    await make()
  } catch (err) {
    return `${(err as { code?: string }).code ?? 'not coded'} ${(err as Error).message}`
  }
  return 'accepted'
}

const noop = defineTool({ name: 'x.noop', input: z.object({}), run: () => 1 })

describe('createEngine refuses options of the wrong kind', () => {
  it.each([
    ['options that are not an object', () => createEngine(null as never), 'TW_INVALID_OPTION createEngine() takes an object of options; received null'],
    ['a concurrency given as text', () => createEngine({ concurrency: '4' as never }), 'TW_INVALID_OPTION option "concurrency" must be a whole number ≥ 1 (or Infinity); received "4"'],
    ['a fractional concurrency', () => createEngine({ concurrency: 2.5 }), 'TW_INVALID_OPTION option "concurrency" must be a whole number ≥ 1 (or Infinity); received 2.5'],
    ['tools that are not a list', () => createEngine({ tools: 5 as never }), 'TW_INVALID_OPTION option "tools" must be an array of tools made by defineTool(); received 5'],
    ['a tool not made by defineTool', () => createEngine({ tools: [noop, { name: 'x' }] as never }), 'TW_INVALID_OPTION option "tools[1]" must be a tool made by defineTool(); received an object'],
    ['a random that is not a function', () => createEngine({ random: 3 as never }), 'TW_INVALID_OPTION option "random" must be a function; received 3'],
    ['a clock without its methods', () => createEngine({ clock: { now: () => 0 } as never }), 'TW_INVALID_OPTION option "clock" must be an object with the methods now, wallNow, setTimer (it lacks wallNow, setTimer); received an object'],
    ['a logger that is not one', () => createEngine({ logger: 5 as never }), 'TW_INVALID_OPTION option "logger" must be an object with the methods debug, info, warn, error, child; received 5'],
    ['a runner without its methods', () => createEngine({ runner: {} as never }), 'TW_INVALID_OPTION option "runner" must be an object with the methods start, cancel, close (it lacks start, cancel, close); received an object'],
    ['a store without its methods', () => createEngine({ store: {} as never }), expect.stringMatching(/^TW_INVALID_OPTION option "store" must be an object with the methods createRun, acquire/)],
  ])('%s', async (_case, make, message) => {
    expect(await refusal(make)).toEqual(message)
  })

  it('refuses a fractional concurrency at run time and in run options', async () => {
    await using engine = createEngine({ tools: [noop], builtins: false })
    expect(await refusal(() => engine.setConcurrency(2.5))).toBe('TW_INVALID_OPTION option "concurrency" must be a whole number ≥ 1 (or Infinity); received 2.5')
    expect(await refusal(() => engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'x.noop' }] }, { concurrency: '2' as never }))).toBe('TW_INVALID_OPTION option "concurrency" must be a whole number ≥ 1 (or Infinity); received "2"')
    expect(await refusal(() => engine.run(null as never, null as never))).toBe('TW_INVALID_OPTION run() takes an object of options; received null')
    const flow = { id: 'w', tasks: [{ id: 'a', tool: 'x.noop' }] }
    expect(await refusal(() => engine.run(flow, { failFast: 'yes' as never }))).toBe('TW_INVALID_OPTION option "failFast" must be true or false; received "yes"')
    expect(await refusal(() => engine.run(flow, { labels: { team: 5 } as never }))).toBe('TW_INVALID_OPTION option "labels.team" must be a string; received 5')
    // Text PostgreSQL's jsonb refuses is refused on every store, before anything is stored.
    expect(await refusal(() => engine.run(flow, { labels: { team: 'a\u0000b' } }))).toBe('TW_INVALID_OPTION option "labels.team" must be text without U+0000 and without an unpaired UTF-16 surrogate; received "a\\u0000b"')
    expect(await refusal(() => engine.run(flow, { labels: { team: 'x\ud800' } }))).toMatch(/^TW_INVALID_OPTION option "labels.team" must be text without U\+0000 and without an unpaired UTF-16 surrogate/)
    expect(await refusal(() => engine.run(flow, { labels: { ['\udc00k']: 'v' } }))).toMatch(/^TW_INVALID_OPTION option "labels" must be an object whose names are text without U\+0000/)
    expect((await engine.run(flow, { labels: { team: 'ok 🧵' } })).status).toBe('succeeded')
    expect(await refusal(() => engine.run(flow, { onTaskComplete: 5 as never }))).toBe('TW_INVALID_OPTION option "onTaskComplete" must be a function, or an object of functions by task id; received 5')
    expect(await refusal(() => engine.run(flow, { inputs: [1] as never }))).toBe('TW_INVALID_OPTION option "inputs" must be an object of input values; received an array')
  })
})

describe('run ids', () => {
  it('refuses a second live run of the same id, and takes it again once the first has ended', async () => {
    await using engine = createEngine({ tools: [noop], builtins: false })
    const flow = { id: 'w', tasks: [{ id: 'a', tool: 'x.noop' }] }
    const first = engine.start(flow, { runId: 'same' })
    expect(await refusal(() => engine.start(flow, { runId: 'same' }))).toBe('TW_INVALID_STATE a run with id "same" is running in this engine: give each run its own runId')
    expect((await first.result).status).toBe('succeeded')
    expect((await engine.run(flow, { runId: 'same' })).status).toBe('succeeded')
  })

  it('resume with a signal aborted already reads nothing and leaves the stored run resumable', async () => {
    const store = new MemoryRunStore()
    const blocked = defineTool({ name: 'x.block', input: z.object({}), run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) })
    const first = createEngine({ tools: [blocked], builtins: false, store })
    const handle = first.start({ id: 'w', tasks: [{ id: 'a', tool: 'x.block' }] })
    await new Promise((resolve) => setTimeout(resolve, 20))
    await first.close()
    await using second = createEngine({ tools: [blocked], builtins: false, store })
    const stop = new AbortController()
    stop.abort(new Error('not now'))
    await expect(second.resume(handle.id, { signal: stop.signal })).rejects.toThrow('not now')
    expect((await store.load(handle.id))?.status).toBe('running')
  })
})

describe('engine.close() names the tool calls it left running', () => {
  it('a tool that ignores its abort signal makes the report unclean, naming its run, task and attempt', async () => {
    let release: (() => void) | undefined
    const stubborn = defineTool({ name: 'x.stubborn', input: z.object({}), run: () => new Promise<void>((resolve) => (release = resolve)) })
    const polite = defineTool({ name: 'x.polite', input: z.object({}), run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => setTimeout(() => reject(ctx.signal.reason), 20))) })
    const engine = createEngine({ tools: [stubborn, polite], builtins: false })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'x.stubborn' }, { id: 'b', tool: 'x.polite' }] }, { runId: 'r1' })
    await new Promise((resolve) => setTimeout(resolve, 20))
    const report = await engine.close()
    expect(report).toEqual({ clean: false, abandoned: [{ stage: 'tool', tool: 'x.stubborn', runId: 'r1', taskId: 'a', attempt: 1 }] })
    expect((await handle.result).status).toBe('cancelled')
    release?.()
  })

  it('an agent call that honours its abort within the pool\'s grace is not reported as a tool call left running', async () => {
    const slow = defineAgent({
      name: 'slow',
      create: () => ({}),
      execute: (_instance, _input: unknown, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => setTimeout(() => reject(ctx.signal.reason), 300))),
    })
    const engine = createEngine({ agents: [slow], builtins: false })
    engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'agent.slow', input: { session: 's', input: {} } }] })
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(await engine.close()).toEqual({ clean: true, abandoned: [] })
  })

  it('is clean when every tool returned once its run ended', async () => {
    const polite = defineTool({ name: 'x.polite', input: z.object({}), run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => setTimeout(() => reject(ctx.signal.reason), 20))) })
    const engine = createEngine({ tools: [polite], builtins: false })
    engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'x.polite' }] })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(await engine.close()).toEqual({ clean: true, abandoned: [] })
  })
})

describe('the testing clock and sleep check their arguments', () => {
  it.each([
    ['a NaN start', () => new ManualClock(Number.NaN), 'TW_INVALID_OPTION option "start" must be a finite number of ms; received NaN'],
    ['a negative advance', () => new ManualClock().advance(-1), 'TW_INVALID_OPTION option "ms" must be a finite number of ms, 0 or more; received -1'],
    ['a NaN advance', () => new ManualClock().advance(Number.NaN), 'TW_INVALID_OPTION option "ms" must be a finite number of ms, 0 or more; received NaN'],
    ['a NaN wall time', () => new ManualClock().setWallTime(Number.NaN), 'TW_INVALID_OPTION option "epochMs" must be a finite number of ms; received NaN'],
    ['a NaN timer', () => new ManualClock().setTimer(Number.NaN, () => undefined), 'TW_INVALID_OPTION option "ms" must be a number of ms; received NaN'],
    ['sleep for a string', () => sleep(new ManualClock(), '1s' as never), 'TW_INVALID_OPTION option "ms" must be a number of ms; received "1s"'],
  ])('%s', async (_case, make, message) => {
    expect(await refusal(make)).toBe(message)
  })

  it('runUntilSettled gives up on a promise waiting on nothing of its clock, with a coded error', async () => {
    const clock = new ManualClock()
    expect(await refusal(() => clock.runUntilSettled(new Promise(() => undefined), { idleTimeoutMs: 30 }))).toMatch(/^TW_TIMEOUT ManualClock\.runUntilSettled: the promise has not settled, and nothing was scheduled on this clock for 30 ms/)
  })
})

describe('background work', () => {
  it('refuses a timeout of 0, as a workflow task does', async () => {
    const executor = new ConcurrentExecutor()
    expect(await refusal(() => executor.submit({ conversationId: 'c', name: 'n', run: () => 1, timeout: 0 }))).toBe('TW_INVALID_OPTION option "timeout" must be a duration above 0 (leave it out for no limit): a limit of 0 would end every task at once; received 0')
    expect(await refusal(() => new ConcurrentExecutor({ defaultTimeout: '0s' }))).toMatch(/^TW_INVALID_OPTION option "defaultTimeout" must be a duration above 0/)
    await executor.close()
  })

  it('a wait for a result ends when its signal aborts, and the task goes on', async () => {
    const executor = new ConcurrentExecutor()
    let finish: ((value: string) => void) | undefined
    const id = executor.submit({ conversationId: 'c', name: 'n', run: () => new Promise<string>((resolve) => (finish = resolve)) })
    const stop = new AbortController()
    const waiting = executor.result(id, { signal: stop.signal })
    stop.abort(new Error('gave up'))
    await expect(waiting).rejects.toThrow('gave up')
    await new Promise((resolve) => setTimeout(resolve, 0))
    finish?.('done')
    expect(await executor.result(id)).toMatchObject({ status: 'succeeded', value: 'done' })
    await executor.close()
  })
})

describe('distributed parts and the server need what they serve', () => {
  it('a remote runner and a worker without a transport, a server without an engine', async () => {
    expect(await refusal(() => createRemoteRunner({} as never))).toBe('TW_INVALID_OPTION createRemoteRunner() needs a transport: openRedisTransport(…), openRabbitTransport(…) or createTransport({ type: \'memory\' })')
    expect(await refusal(() => startWorker({} as never))).toBe('TW_INVALID_OPTION startWorker() needs a transport: openRedisTransport(…), openRabbitTransport(…) or createTransport({ type: \'memory\' })')
    expect(await refusal(() => startServer({ token: 'a-long-enough-secret-token' } as never))).toBe('TW_INVALID_OPTION startServer() needs an engine: startServer({ engine: createEngine(…), token })')
    expect(await refusal(() => startServer({ engine: 5, token: 'a-long-enough-secret-token' } as never))).toBe('TW_INVALID_OPTION option "engine" must be an object with the methods start, run, compile, close; received 5')
  })
})

describe('agents, stores and errors', () => {
  const agent = { name: 'chat', create: () => ({}), execute: () => 'hi' }

  it('defineAgent names an unknown field and a concurrentSafe that is not a boolean, as defineTool does', async () => {
    expect(await refusal(() => defineAgent({ ...agent, concurentSafe: true } as never))).toBe('TW_INVALID_OPTION unknown option "concurentSafe" of defineAgent(); did you mean "concurrentSafe"?')
    expect(await refusal(() => defineAgent({ ...agent, concurrentSafe: 'yes' } as never))).toBe('TW_INVALID_OPTION agent "chat": concurrentSafe must be true or false; received "yes"')
    expect(await refusal(() => defineAgent(null as never))).toMatch(/^TW_INVALID_OPTION defineAgent\(\) takes an object/)
  })

  it('MemoryRunStore refuses an option it does not know', async () => {
    expect(await refusal(() => new MemoryRunStore({ bogus: 1 } as never))).toBe('TW_INVALID_OPTION unknown option "bogus" of MemoryRunStore(); known options: exclusive')
  })

  it('deserializeError of something that is no serialised error gives a coded error saying so', () => {
    expect(deserializeError(null as never)).toMatchObject({ code: 'TW_TOOL_FAILED', message: 'an error arrived as null, not as a serialised error' })
  })
})

describe('queues', () => {
  it('enqueue names a wrong option as the caller wrote it, and enqueueMany names the message', async () => {
    const queue = createMemoryQueue<{ n: number }>({ name: 'q' })
    expect(await refusal(() => queue.enqueue({ n: 1 }, { prority: 5 } as never))).toBe('TW_INVALID_OPTION unknown option "prority" of enqueue(); did you mean "priority"?')
    expect(await refusal(() => queue.enqueue({ n: 1 }, { priority: Number.NaN }))).toBe('TW_INVALID_OPTION option "priority" must be a finite number; received NaN')
    expect(await refusal(() => queue.enqueueMany([{ body: { n: 1 } }, { body: { n: 2 }, prority: 5 } as never]))).toBe('TW_INVALID_OPTION unknown option "messages[1].prority" of enqueue(); did you mean "messages[1].priority"?')
    expect((await queue.stats()).pending).toBe(0)
    await queue.close()
  })
})
