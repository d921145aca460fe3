/** Regressions found by review of the scheduler: each test failed before its fix. */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../../src/engine/engine.js'
import { defineTool } from '../../src/core/tool.js'
import { sleep } from '../../src/core/clock.js'
import { TaskweaveError } from '../../src/core/errors.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

function tools(clock: ManualClock) {
  const wait = defineTool({
    name: 'wait',
    input: z.object({ ms: z.number().default(10), fail: z.boolean().default(false), add: z.string().optional() }),
    run: async ({ ms, fail, add }, ctx) => {
      if (add !== undefined) ctx.addTask({ id: add, tool: 'wait', input: { ms: 1 } })
      await sleep(clock, ms, ctx.signal)
      if (fail) throw new TaskweaveError('E_FAIL', `${ctx.taskId} failed`)
      return ctx.taskId
    },
  })
  const num = defineTool({ name: 'num', input: z.object({ n: z.number() }), run: ({ n }) => n })
  return [wait, num]
}

describe('scheduler regressions', () => {
  it('keeps the engine slot count exact when a failure lets a queued run in (failFast, shared slots)', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false, concurrency: 1 })
    const result = await clock.runUntilSettled(
      engine.run(
        { id: 'w', inputs: { s: { type: 'string', default: 'x' } }, failFast: true, tasks: [{ id: 'a', tool: 'wait', input: { fail: true } }, { id: 'b', tool: 'num', input: { n: '{{ inputs.s }}' } }] },
        { concurrency: 2 },
      ),
    )
    expect(result.status).toBe('failed')
    expect(result.tasks['a']!.status).toBe('failed')
    // A second run can still use exactly one slot.
    const again = await clock.runUntilSettled(engine.run({ id: 'w2', tasks: [{ id: 'x', tool: 'wait' }, { id: 'y', tool: 'wait' }] }))
    expect(again.durationMs).toBe(20)
  })

  it('refuses a second running tool adding the same task id, instead of hanging', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'wait', input: { add: 'follow' } }, { id: 'b', tool: 'wait', input: { ms: 30, add: 'follow' } }] }))
    expect(result.tasks['follow']!.status).toBe('succeeded')
    expect(result.tasks['b']!.error!.message).toContain('duplicate task id "follow"')
  })

  it('applies failFast at once when a condition cannot be evaluated', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false })
    const result = await clock.runUntilSettled(
      engine.run({ id: 'w', failFast: true, tasks: [{ id: 'a', tool: 'wait' }, { id: 'b', tool: 'wait', when: 'tasks.a.output.missing == 1' }, { id: 'c', tool: 'wait', dependsOn: ['a'], input: { ms: 5 } }] }),
    )
    expect(result.status).toBe('failed')
    expect(result.reason).toBe('failFast: task "b" failed')
    expect(result.tasks['c']).toMatchObject({ status: 'cancelled', attempts: 0 })
  })

  it('gives a tool an aborted signal once its attempt timed out', async () => {
    const clock = new ManualClock()
    let late: boolean | undefined
    const slow = defineTool({
      name: 'slow',
      input: z.object({}),
      run: async (_input, ctx) => {
        await sleep(clock, 100) // ignores the signal at first
        late = ctx.signal.aborted
      },
    })
    const engine = createEngine({ clock, tools: [slow], builtins: false })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'slow', timeout: 20 }] }))
    await clock.runUntilSettled(sleep(clock, 200))
    expect(result.tasks['a']!.error!.code).toBe('TW_TIMEOUT')
    expect(late).toBe(true)
  })

  it('calls the completion handler of a forEach over an empty list, and of cancelled tasks', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false })
    const seen: string[] = []
    const onTaskComplete = (done: { taskId: string; status: string }): void => void seen.push(`${done.taskId}:${done.status}`)
    const empty = { id: 'w', inputs: { items: { type: 'array' as const } }, tasks: [{ id: 'each', tool: 'wait', forEach: '{{ inputs.items }}' }] }
    await clock.runUntilSettled(engine.run(empty, { inputs: { items: [] }, onTaskComplete }))
    expect(seen).toEqual(['each:succeeded'])
    const handle = engine.start({ id: 'w', tasks: [{ id: 'long', tool: 'wait', input: { ms: 1000 } }] }, { onTaskComplete })
    clock.setTimer(10, () => handle.cancel('stop'))
    await clock.runUntilSettled(handle.result)
    expect(seen).toEqual(['each:succeeded', 'long:cancelled'])
  })

  it('ends an event stream at once for an aborted signal and leaves no abort listener behind', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'wait' }] })
    const stream = handle.events({ signal: AbortSignal.abort() })
    expect(await stream.next()).toEqual({ value: undefined, done: true })
    const controller = new AbortController()
    let listeners = 0
    const signal = controller.signal
    const add = signal.addEventListener.bind(signal)
    const remove = signal.removeEventListener.bind(signal)
    signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args)))
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args)))
    const second = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'wait' }] })
    const events = second.events({ signal })
    await clock.runUntilSettled(Promise.all([handle.result, second.result]))
    for await (const _ of events) void _
    expect(listeners).toBe(0)
  })

  it('shares engine slots fairly between runs', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false, concurrency: 2 })
    const spec = (id: string) => ({ id, tasks: Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, tool: 'wait' })) })
    const a = engine.run(spec('a'))
    const b = engine.run(spec('b'))
    const [ra, rb] = await clock.runUntilSettled(Promise.all([a, b]))
    expect(Math.min(...Object.values(rb.tasks).map((t) => t.startedAt!))).toBeLessThanOrEqual(10)
    expect(Math.abs(ra.durationMs - rb.durationMs)).toBeLessThanOrEqual(10)
  })

  it('cancelling from a listener neither starts the tool nor leaves a timer, and forEach items are all cancelled', async () => {
    const clock = new ManualClock()
    const engine = createEngine({ clock, tools: tools(clock), builtins: false })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'wait', timeout: '1h', input: { ms: 5 } }] })
    handle.on('task:started', () => handle.cancel('listener'))
    const result = await clock.runUntilSettled(handle.result)
    expect(result.status).toBe('cancelled')
    expect(clock.nextDue()).toBeUndefined()

    const fan = engine.start({ id: 'fan', inputs: { items: { type: 'array' } }, tasks: [{ id: 'each', tool: 'wait', forEach: '{{ inputs.items }}', input: { ms: 1 } }] }, { inputs: { items: [1, 2, 3] } })
    fan.on('task:added', () => fan.cancel('stop'))
    const fanned = await clock.runUntilSettled(fan.result)
    expect(fanned.status).toBe('cancelled')
    const total = Object.values(fanned.counts).reduce((sum, n) => sum + n, 0)
    expect(total).toBe(Object.keys(fanned.tasks).length)
    expect(fanned.counts.ready).toBe(0)
  })

  it('reports sensible times for a run cancelled before it started', async () => {
    const clock = new ManualClock(5_000_000)
    const engine = createEngine({ clock, tools: tools(clock), builtins: false })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'wait' }] })
    handle.cancel('never mind')
    const result = await handle.result
    expect(result).toMatchObject({ status: 'cancelled', durationMs: 0, reason: 'never mind' })
    expect(result.startedAt).not.toBe('')
  })
})
