import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { MAX_TIMER_MS, sleep } from '../core/clock.js'
import { defineTool } from '../core/tool.js'
import { createEngine } from '../engine/engine.js'
import type { RunStatus } from '../engine/states.js'
import { DONE, defineStateMachine } from '../fsm/define.js'
import { ManualClock } from '../testing/manual-clock.js'
import { workflow } from '../workflow/builder.js'
import { ConcurrentExecutor } from './executor.js'
import type { BackgroundOutcome } from './types.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
/** Never settles on its own; rejects with the signal's reason when aborted. */
const untilAborted = (signal: AbortSignal): Promise<never> => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(() => {
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

describe('ConcurrentExecutor: one task', () => {
  it('goes pending → running → succeeded with clock timings', async () => {
    const clock = new ManualClock(100)
    const executor = new ConcurrentExecutor({ clock })
    const id = executor.submit({ conversationId: 'c1', name: 'work', run: async ({ signal }) => (await sleep(clock, 500, signal), 42) })
    expect(id).toBe('c1:work:1')
    expect(executor.status(id)).toMatchObject({ taskId: id, conversationId: 'c1', name: 'work', kind: 'function', status: 'pending', submittedAt: 100 })
    await tick()
    expect(executor.status(id)).toMatchObject({ status: 'running', startedAt: 100, durationMs: 0 })
    expect(executor.peek(id)).toBeUndefined()
    clock.advance(500)
    const outcome = await executor.result(id)
    expect(outcome).toMatchObject({ status: 'succeeded', value: 42, startedAt: 100, finishedAt: 600, durationMs: 500 })
    expect(executor.peek(id)).toBe(outcome)
    expect(executor.status(id)).toMatchObject({ status: 'succeeded', finishedAt: 600, durationMs: 500 })
  })

  it('gives unique ids and types result() by what was submitted', async () => {
    const executor = new ConcurrentExecutor()
    const a = executor.submit({ conversationId: 'c', name: 'n', run: () => ({ answer: 1 }) })
    const b = executor.submit({ conversationId: 'c', name: 'n', run: () => 'two' })
    expect(a).not.toBe(b)
    const outcome = await executor.result(a)
    const answer: number | undefined = outcome?.value?.answer
    expect(answer).toBe(1)
    expect(await executor.result('no-such-id')).toBeUndefined()
    expect(executor.status('no-such-id')).toBeUndefined()
  })

  it('captures thrown errors, rejections and non-errors as failed outcomes', async () => {
    const executor = new ConcurrentExecutor()
    const sync = executor.submit({ conversationId: 'c', name: 'sync', run: () => { throw new Error('sync boom') } })
    const async = executor.submit({ conversationId: 'c', name: 'async', run: async () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })) })
    const odd = executor.submit({ conversationId: 'c', name: 'odd', run: () => Promise.reject('a string') })
    expect(await executor.result(sync)).toMatchObject({ status: 'failed', error: { message: 'sync boom', code: 'TW_TOOL_FAILED' } })
    expect(await executor.result(async)).toMatchObject({ status: 'failed', error: { message: 'reset', code: 'ECONNRESET' } })
    expect(await executor.result(odd)).toMatchObject({ status: 'failed', error: { message: 'a string' } })
  })

  it('finishes a synchronous function in its start microtask, with no promise of its own', async () => {
    const executor = new ConcurrentExecutor({ clock: new ManualClock() })
    const id = executor.submit({ conversationId: 'c', name: 'sync', run: () => 7 })
    expect(executor.status(id)?.status).toBe('pending')
    await Promise.resolve()
    expect(executor.peek(id)).toMatchObject({ status: 'succeeded', value: 7 })
  })

  it('writes outcomes with their fields in one order, whichever way the task ended', async () => {
    const executor = new ConcurrentExecutor({ clock: new ManualClock() })
    const ok = executor.submit({ conversationId: 'c', name: 'ok', run: () => 1 })
    const failed = executor.submit({ conversationId: 'c', name: 'failed', run: () => { throw new Error('no') } })
    expect(Object.keys((await executor.result(ok))!)).toEqual(['taskId', 'conversationId', 'name', 'kind', 'status', 'value', 'submittedAt', 'startedAt', 'finishedAt', 'durationMs'])
    expect(Object.keys((await executor.result(failed))!)).toEqual(['taskId', 'conversationId', 'name', 'kind', 'status', 'error', 'submittedAt', 'startedAt', 'finishedAt', 'durationMs'])
  })

  it('gives every caller of result() the same promise while the task runs', async () => {
    const executor = new ConcurrentExecutor({ clock: new ManualClock() })
    const id = executor.submit({ conversationId: 'c', name: 'sync', run: () => 7 })
    const first = executor.result(id)
    expect(executor.result(id)).toBe(first)
    expect(await first).toMatchObject({ status: 'succeeded', value: 7 })
  })

  it('records the latest progress', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock })
    const id = executor.submit({
      conversationId: 'c',
      name: 'p',
      run: async (ctx) => {
        ctx.progress({ fraction: 0.5, message: 'half way' })
        await sleep(clock, 10, ctx.signal)
      },
    })
    await tick()
    expect(executor.status(id)?.progress).toEqual({ fraction: 0.5, message: 'half way' })
    clock.advance(10)
    await executor.result(id)
  })
})

describe('ConcurrentExecutor: cancel and timeouts', () => {
  it('cancels a running task: its signal aborts, result resolves cancelled, a late result is ignored', async () => {
    const executor = new ConcurrentExecutor()
    let signal: AbortSignal | undefined
    let finishLate: (() => void) | undefined
    const id = executor.submit({
      conversationId: 'c',
      name: 'slow',
      run: (ctx) => {
        signal = ctx.signal
        return new Promise<string>((resolve) => (finishLate = () => resolve('too late')))
      },
    })
    await tick()
    expect(executor.cancel(id, 'user changed their mind')).toBe(true)
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toMatchObject({ code: 'TW_CANCELLED', message: 'user changed their mind' })
    finishLate?.()
    expect(await executor.result(id)).toMatchObject({ status: 'cancelled', error: { code: 'TW_CANCELLED', message: 'user changed their mind' } })
    expect(executor.peek(id)?.value).toBeUndefined()
    expect(executor.cancel(id)).toBe(false)
    expect(executor.cancel('unknown')).toBe(false)
  })

  it('cancels a pending task before it ever runs', async () => {
    const executor = new ConcurrentExecutor()
    let ran = false
    const id = executor.submit({ conversationId: 'c', name: 'never', run: () => (ran = true) })
    executor.cancel(id)
    await tick()
    expect(ran).toBe(false)
    expect(executor.peek(id)).toMatchObject({ status: 'cancelled' })
    expect(executor.peek(id)?.startedAt).toBeUndefined()
  })

  it('follows the submit signal, aborted before or after', async () => {
    const executor = new ConcurrentExecutor()
    const early = executor.submit({ conversationId: 'c', name: 'early', signal: AbortSignal.abort('nope'), run: () => 1 })
    expect(executor.peek(early)).toMatchObject({ status: 'cancelled', error: { code: 'TW_CANCELLED' } })
    const controller = new AbortController()
    const late = executor.submit({ conversationId: 'c', name: 'late', signal: controller.signal, run: ({ signal }) => untilAborted(signal) })
    await tick()
    controller.abort()
    expect(await executor.result(late)).toMatchObject({ status: 'cancelled' })
  })

  it('times a task out on the clock with TW_TIMEOUT (per task and by default)', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock, defaultTimeout: '1m' })
    let reason: unknown
    const own = executor.submit({ conversationId: 'c', name: 'own', timeout: '5s', run: ({ signal }) => untilAborted(signal).catch((err: unknown) => { reason = err; throw err }) })
    const byDefault = executor.submit({ conversationId: 'c', name: 'default', run: ({ signal }) => untilAborted(signal) })
    await tick()
    clock.advance(5000)
    expect(executor.peek(own)).toMatchObject({ status: 'timed_out', durationMs: 5000, error: { code: 'TW_TIMEOUT', details: { taskId: own, timeoutMs: 5000 } } })
    expect(executor.status(byDefault)?.status).toBe('running')
    clock.advance(55_000)
    expect(executor.peek(byDefault)).toMatchObject({ status: 'timed_out', durationMs: 60_000 })
    await tick()
    expect(reason).toMatchObject({ code: 'TW_TIMEOUT' })
    expect(clock.pendingTimers).toBe(1) // only the finished-TTL sweep is left
  })

  it('a signal first read after the task was stopped comes aborted with the reason', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock })
    let late: AbortSignal | undefined
    const id = executor.submit({
      conversationId: 'c',
      name: 'lazy',
      timeout: 100,
      run: async (ctx) => {
        await sleep(clock, 1000) // does not pass the signal, and looks at it only afterwards
        late = ctx.signal
      },
    })
    await tick()
    clock.advance(1000)
    await tick()
    expect(executor.peek(id)?.status).toBe('timed_out')
    expect(late?.aborted).toBe(true)
    expect(late?.reason).toMatchObject({ code: 'TW_TIMEOUT' })
  })

  it('a task that ends in time cancels its timeout timer', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock, finishedTtl: Infinity })
    const id = executor.submit({ conversationId: 'c', name: 'quick', timeout: '5s', run: () => 'ok' })
    expect(await executor.result(id)).toMatchObject({ status: 'succeeded' })
    expect(clock.pendingTimers).toBe(0)
  })
})

describe('ConcurrentExecutor: durations past 2^31 ms', () => {
  it('times a task out after 30 days on a clock whose timers cannot hold that long, not after 1 ms', async () => {
    const manual = new ManualClock()
    // setTimeout semantics: a delay past MAX_TIMER_MS fires after 1 ms.
    const clock = { now: () => manual.now(), wallNow: () => manual.wallNow(), setTimer: (ms: number, fn: () => void) => manual.setTimer(ms > MAX_TIMER_MS ? 1 : ms, fn) }
    const executor = new ConcurrentExecutor({ clock, finishedTtl: Infinity })
    const id = executor.submit({ conversationId: 'c', name: 'long', timeout: '30d', run: ({ signal }) => untilAborted(signal).catch(() => undefined) })
    await tick()
    manual.advance(1000)
    await tick()
    expect(executor.status(id)?.status).toBe('running')
    manual.advance(30 * 24 * 3600 * 1000)
    await tick()
    expect(executor.peek(id)).toMatchObject({ status: 'timed_out', error: { code: 'TW_TIMEOUT' } })
  })
})

describe('ConcurrentExecutor: workflows and state machines', () => {
  const wait = defineTool({ name: 'test.wait', input: z.object({}), run: (_input, ctx) => untilAborted(ctx.signal) })
  const echo = defineTool({ name: 'test.echo', input: z.object({ text: z.string() }), run: ({ text }) => text })

  it('runs a workflow through the engine and reports its RunResult', async () => {
    await using engine = createEngine({ builtins: false })
    const executor = new ConcurrentExecutor({ engine })
    const flow = workflow({ id: 'greet', inputs: { who: { type: 'string' } } }).task('hello', echo, { input: { text: 'hi {{ inputs.who }}' } }).build()
    const outcome = await executor.result(executor.submit({ conversationId: 'c', name: 'greet', run: flow, inputs: { who: 'Ada' } }))
    expect(outcome?.kind).toBe('workflow')
    expect(outcome?.status).toBe('succeeded')
    expect(outcome?.value?.tasks['hello']?.output).toBe('hi Ada')
  })

  it('status() gives a running workflow task its run id, which its events carry', async () => {
    await using engine = createEngine({ builtins: false, tools: [wait] })
    const executor = new ConcurrentExecutor({ engine })
    const started: string[] = []
    engine.events.on('task:started', (e) => void started.push(e.runId))
    const id = executor.submit({ conversationId: 'c', name: 'long', run: workflow({ id: 'long' }).task('w', wait).build() })
    await new Promise((resolve) => setTimeout(resolve, 10))
    const runId = executor.status(id)?.runId
    expect(runId).toEqual(expect.any(String))
    expect(started).toEqual([runId])
    executor.cancel(id)
    expect(executor.status(id)?.runId).toBe(runId)
  })

  it('reports a workflow that ended partial as failed with TW_RUN_FAILED, its RunResult kept', async () => {
    await using engine = createEngine({ builtins: false })
    const executor = new ConcurrentExecutor({ engine })
    const bad = defineTool({ name: 'test.bad', input: z.object({}), run: () => { throw new Error('bad') } })
    const flow = workflow({ id: 'mixed' }).task('ok', echo, { input: { text: 'x' } }).task('bad', bad).build()
    const outcome = await executor.result(executor.submit({ conversationId: 'c', name: 'mixed', run: flow }))
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'TW_RUN_FAILED', details: { status: 'partial', failed: ['bad'] } } })
    expect(outcome?.value?.status).toBe('partial')
  })

  it('cancelling a workflow task cancels its run', async () => {
    await using engine = createEngine({ builtins: false })
    const finished: RunStatus[] = []
    engine.events.on('run:finished', (event) => finished.push(event.status))
    const executor = new ConcurrentExecutor({ engine })
    const id = executor.submit({ conversationId: 'c', name: 'long', run: workflow({ id: 'long' }).task('w', wait).build() })
    await tick()
    await tick()
    executor.cancel(id)
    expect(executor.peek(id)).toMatchObject({ status: 'cancelled' })
    await engine.close()
    expect(finished).toEqual(['cancelled'])
  })

  it('fails a workflow task clearly when the executor has no engine, and an invalid workflow with TW_VALIDATION', async () => {
    const executor = new ConcurrentExecutor()
    const flow = workflow({ id: 'x' }).task('a', echo, { input: { text: 'x' } }).build()
    expect(await executor.result(executor.submit({ conversationId: 'c', name: 'x', run: flow }))).toMatchObject({ status: 'failed', error: { code: 'TW_INVALID_OPTION' } })
    await using engine = createEngine({ builtins: false })
    const withEngine = new ConcurrentExecutor({ engine })
    const invalid = { id: 'bad', tasks: [{ id: 'a', tool: 'no.such.tool' }] }
    expect(await withEngine.result(withEngine.submit({ conversationId: 'c', name: 'bad', run: invalid }))).toMatchObject({ status: 'failed', error: { code: 'TW_VALIDATION' } })
  })

  it('runs a state machine, and reports where it was when it timed out', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock })
    const machine = defineStateMachine({
      initial: 'a',
      context: { n: 0 },
      states: { a: { run: ({ context }) => ({ next: 'b', context: { n: context.n + 1 } }) }, b: { run: ({ sleep }) => sleep('1h').then(() => DONE) } },
    })
    const quick = executor.submit({ conversationId: 'c', name: 'fsm', run: machine, context: { n: 10 }, timeout: '2h' })
    const slow = executor.submit({ conversationId: 'c', name: 'fsm', run: machine, timeout: '30m' })
    await tick()
    clock.advance(30 * 60_000)
    const timedOut = await executor.result(slow)
    expect(timedOut).toMatchObject({ kind: 'state-machine', status: 'timed_out', error: { code: 'TW_TIMEOUT' } })
    expect(timedOut?.value).toMatchObject({ status: 'cancelled', finalState: 'b', context: { n: 1 }, error: { code: 'TW_TIMEOUT' } })
    expect(timedOut?.value?.transitions.map((t) => t.to)).toEqual(['b'])
    clock.advance(30 * 60_000)
    const done = await executor.result(quick)
    expect(done).toMatchObject({ status: 'succeeded', value: { status: 'succeeded', finalState: 'b', context: { n: 11 } } })
    expect(executor.status(quick)?.progress?.message).toBe('b → done')
  })
})

describe('ConcurrentExecutor: options', () => {
  it.each([
    [{ maxFinished: -1 }, /option "maxFinished" must be an integer ≥ 0/],
    [{ finishedTtl: 'forever' }, /option "finishedTtl" must be a duration/],
    [{ defaultTimeout: -5 }, /option "defaultTimeout" must be a duration/],
  ])('rejects %o with TW_INVALID_OPTION', (options, message) => {
    expect(() => new ConcurrentExecutor(options as never)).toThrow(message)
  })

  it('rejects a bad submit naming the field', () => {
    const executor = new ConcurrentExecutor()
    expect(() => executor.submit({ conversationId: '', name: 'x', run: () => 1 })).toThrow(/option "conversationId" must be a non-empty string/)
    expect(() => executor.submit({ conversationId: 'c\u0000', name: 'x', run: () => 1 })).toThrow(/option "conversationId" must be text without U\+0000 and without an unpaired UTF-16 surrogate/)
    expect(() => executor.submit({ conversationId: 'c', name: 'x\ud800', run: () => 1 })).toThrow(/option "name" must be text without U\+0000 and without an unpaired UTF-16 surrogate/)
    expect(() => executor.submit({ conversationId: 'c', name: 'x', taskId: '\udc00', run: () => 1 })).toThrow(/option "taskId" must be a non-empty string of at most 512 characters, text without U\+0000/)
    expect(() => executor.submit({ conversationId: 'c', name: 'x', run: 5 as never })).toThrow(/option "run" must be a function, a workflow definition or a state machine/)
    expect(() => executor.submit({ conversationId: 'c', name: 'x', timeout: 'later' as never, run: () => 1 })).toThrow(/option "timeout"/)
  })

  it('takes its clock from the engine', () => {
    const clock = new ManualClock(1234)
    const executor = new ConcurrentExecutor({ engine: { clock, start: () => { throw new Error('unused') } } })
    const id = executor.submit({ conversationId: 'c', name: 'x', run: () => 1 })
    expect(executor.status(id)?.submittedAt).toBe(1234)
  })
})

describe('ConcurrentExecutor: close', () => {
  it('cancels everything, ends iterators, refuses new work, keeps outcomes readable', async () => {
    const executor = new ConcurrentExecutor()
    const ids = [1, 2, 3].map((i) => executor.submit({ conversationId: `c${i}`, name: 'w', run: ({ signal }) => untilAborted(signal) }))
    const stream = executor.completions('c1')
    await tick()
    await executor.close()
    await executor.close() // idempotent
    for (const id of ids) expect(executor.peek(id)).toMatchObject({ status: 'cancelled', error: { message: 'the background executor is closing' } })
    const seen: BackgroundOutcome[] = []
    for await (const outcome of stream) seen.push(outcome)
    expect(seen.map((o) => o.taskId)).toEqual([ids[0]])
    expect(() => executor.submit({ conversationId: 'c', name: 'x', run: () => 1 })).toThrow(/closed/)
    expect((await executor.completions('c1').next()).done).toBe(true)
  })
})

describe('ConcurrentExecutor: a submit with a bad option', () => {
  it('is refused with TW_INVALID_OPTION naming it, and leaves nothing behind', async () => {
    const background = new ConcurrentExecutor()
    const submit = (options: Record<string, unknown>): unknown => background.submit({ conversationId: 'c', name: 'n', run: () => 1, ...options } as never)
    expect(() => submit({ signal: {} })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('option "signal" must be an AbortSignal') as unknown }))
    expect(() => submit({ timeoutMs: 10 })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('unknown option "timeoutMs" of background.submit(); did you mean "timeout"?') as unknown }))
    expect(() => submit({ durable: 'no' })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('"durable"') as unknown }))
    expect(() => submit({ context: {} })).toThrow(/unknown option "context"/)
    // A started promise (the twin of a Python coroutine object) is not taken for a workflow.
    const started = Promise.resolve('done')
    expect(() => submit({ run: started })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('option "run" must be a function that starts the work') as unknown }))
    expect(background.stats()).toMatchObject({ tasks: 0, active: 0, conversations: 0 })
    await background.close()
  })
})

describe('close() and a submit from the work it cancels', () => {
  it('refuses work an onComplete submits while close() cancels: nothing outlives close()', async () => {
    let refused: unknown
    const executor: ConcurrentExecutor = new ConcurrentExecutor({
      onComplete: () => {
        try {
          executor.submit({ conversationId: 'c', name: 'follow-up', run: () => new Promise((resolve) => setTimeout(resolve, 50)) })
        } catch (err) {
          refused = err
        }
      },
    })
    executor.submit({ conversationId: 'c', name: 'long', run: () => new Promise(() => undefined) })
    await new Promise((resolve) => setImmediate(resolve))
    await executor.close()
    expect(refused).toMatchObject({ code: 'TW_CANCELLED' })
    expect(executor.stats().active).toBe(0)
  })
})

describe('ConcurrentExecutor: a task id the caller chooses (the seed\'s task_id="conversation123:my_task")', () => {
  it('runs under that id, refuses it again while the task is known, and never repeats it in a generated id', async () => {
    const background = new ConcurrentExecutor()
    const id = background.submit({ conversationId: 'conversation123', name: 'my_task', taskId: 'conversation123:my_task', run: () => 'done' })
    expect(id).toBe('conversation123:my_task')
    expect(await background.result(id)).toMatchObject({ taskId: 'conversation123:my_task', conversationId: 'conversation123', status: 'succeeded', value: 'done' })
    expect(background.list('conversation123').map((t) => t.taskId)).toEqual(['conversation123:my_task'])
    // Still remembered (finished, not yet forgotten): a second task of that id is refused, nothing is replaced.
    expect(() => background.submit({ conversationId: 'conversation123', name: 'again', taskId: 'conversation123:my_task', run: () => 2 })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('already has a task "conversation123:my_task"') as unknown }))
    expect((await background.result(id))?.value).toBe('done')
    // An id shaped like a generated one: the generated ids that follow skip past it.
    background.submit({ conversationId: 'c', name: 'n', taskId: 'c:n:7', run: () => 7 })
    const next = background.submit({ conversationId: 'c', name: 'n', run: () => 8 })
    expect(next).toBe('c:n:8')
    expect((await background.result('c:n:7'))?.value).toBe(7)
    expect((await background.result(next))?.value).toBe(8)
    expect(() => background.submit({ conversationId: 'c', name: 'n', taskId: '', run: () => 1 })).toThrow(/option "taskId" must be a non-empty string/)
    await background.close()
  })
})
