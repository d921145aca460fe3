import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import { createEngine } from './engine.js'
import { succeededTaskReader, taskReportAt } from './run-report.js'
import { knownHash } from '../workflow/compile.js'
import { ManualClock } from '../testing/manual-clock.js'

describe('taskReportAt', () => {
  // A small run's report is made with its result, a large one's on first read: both answer alike.
  it.each([0, 40])('gives the report of one task by its index and id, the same as result.tasks holds, and nothing for other tasks or results (%i more tasks)', async (extra) => {
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: (input) => input.n * 2 })
    const fail = defineTool({ name: 'fail', input: z.object({}), run: () => Promise.reject(new Error('no')) })
    const engine = createEngine({ tools: [echo, fail], builtins: false })
    const result = await engine.run({
      id: 'r',
      tasks: [
        { id: 'a', tool: 'echo', input: { n: 1 } },
        { id: 'b', tool: 'fail' },
        { id: 'c', tool: 'echo', input: { n: 3 }, dependsOn: ['b'] },
        ...Array.from({ length: extra }, (_, k) => ({ id: `x${k}`, tool: 'echo', input: { n: k } })),
      ],
    })
    expect(taskReportAt(result, 0, 'a')).toEqual(result.tasks['a'])
    expect(taskReportAt(result, 0, 'a')?.output).toBe(2)
    expect(taskReportAt(result, 1, 'b')).toEqual(result.tasks['b'])
    expect(taskReportAt(result, 1, 'b')?.status).toBe('failed')
    expect(taskReportAt(result, 2, 'c')).toEqual(result.tasks['c'])
    expect(taskReportAt(result, 2, 'c')?.status).toBe('skipped')
    expect(taskReportAt(result, 3 + extra, 'nope')).toBeUndefined()
    expect(taskReportAt(result, -1, 'nope')).toBeUndefined()
    // A copy (its `tasks` made by the spread) answers alike.
    expect(taskReportAt({ ...result }, 0, 'a')).toEqual(result.tasks['a'])
    expect(taskReportAt({ ...result }, 0, 'nope')).toBeUndefined()
    await engine.close()
  })
})

describe('succeededTaskReader', () => {
  it('reads what the report of a succeeded task holds, into one object reused across reads; nothing for other tasks, rare state or a small result', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: (input) => input.n * 2 })
    const fail = defineTool({ name: 'fail', input: z.object({}), run: () => Promise.reject(new Error('no')) })
    let calls = 0
    const flaky = defineTool({ name: 'flaky', input: z.object({}), run: () => (++calls === 1 ? Promise.reject(new Error('once')) : 'ok') })
    const engine = createEngine({ tools: [echo, fail, flaky], builtins: false })
    const tasks = [
      { id: 'a', tool: 'echo', input: { n: 1 } },
      { id: 'b', tool: 'fail' },
      { id: 'c', tool: 'flaky', retry: { maxAttempts: 2, initialDelay: 0 } },
      ...Array.from({ length: 40 }, (_, k) => ({ id: `x${k}`, tool: 'echo', input: { n: k } })),
    ]
    const result = await engine.run({ id: 'r', tasks })
    const read = succeededTaskReader(result)
    const a = read(0, 'a')
    expect(a).toEqual({ attempts: 1, finishedAt: result.tasks['a']?.finishedAt, durationMs: result.tasks['a']?.durationMs, output: 2 })
    const x = read(3 + 7, 'x7')
    expect(x).toBe(a)
    expect(x).toEqual({ attempts: 1, finishedAt: result.tasks['x7']?.finishedAt, durationMs: result.tasks['x7']?.durationMs, output: 14 })
    expect(read(1, 'b')).toBeUndefined()
    // Succeeded on its second attempt: its report carries the failed one, so it is read whole.
    expect(result.tasks['c']?.status).toBe('succeeded')
    expect(read(2, 'c')).toBeUndefined()
    expect(read(0, 'x0')).toBeUndefined()
    expect(read(99, 'a')).toBeUndefined()
    const small = await engine.run({ id: 's', tasks: [{ id: 'a', tool: 'echo', input: { n: 1 } }] })
    expect(succeededTaskReader(small)(0, 'a')).toBeUndefined()
    await engine.close()
  })
})

describe('a run whose clock gives no usable wall time', () => {
  it('is refused with an error naming the clock, instead of a result that never settles', async () => {
    const clock = new ManualClock()
    clock.wallNow = () => Number.NaN
    const engine = createEngine({ clock, builtins: false, tools: [defineTool({ name: 'one', input: z.object({}), run: () => 1 })] })
    await expect(engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'one' }] })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/clock\.wallNow\(\)/) as unknown })
    await engine.close()
  })
})

describe('the run result object', () => {
  it('has its fields in the documented order, builds tasks and the hash on first read, and copies as plain data', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: (input) => input.n })
    const engine = createEngine({ tools: [echo], builtins: false })
    const compiled = engine.compile({ id: 'r', tasks: [{ id: 'a', tool: 'echo', input: { n: 7 } }] })
    const result = await engine.run(compiled)
    expect(Object.keys(result)).toEqual(['runId', 'workflowId', 'workflowHash', 'status', 'startedAt', 'durationMs', 'counts', 'tasks', 'failed'])
    expect(result.workflowHash).toBe(compiled.hash)
    // The same record on every read.
    expect(result.tasks).toBe(result.tasks)
    expect(result.tasks['a']?.output).toBe(7)
    const json = JSON.parse(JSON.stringify(result)) as typeof result
    expect(json.tasks['a']?.output).toBe(7)
    expect(json.workflowHash).toBe(compiled.hash)
    expect(Object.keys(json)).toEqual(Object.keys(result))
    const cloned = structuredClone(result)
    expect(cloned.tasks['a']?.status).toBe('succeeded')
    expect(Object.getOwnPropertySymbols(cloned)).toEqual([])
    const spread = { ...result }
    expect(spread.tasks).toBe(result.tasks)
    await engine.close()
  })

  it.each([0, 40])('reads tasks and the hash through a Proxy that wraps what it returns (a reactive or read-only view), and after Object.freeze (%i more tasks)', async (extra) => {
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: (input) => input.n })
    const engine = createEngine({ tools: [echo], builtins: false })
    const more = Array.from({ length: extra }, (_, k) => ({ id: `x${k}`, tool: 'echo', input: { n: k } }))
    const result = await engine.run({ id: 'r', tasks: [{ id: 'a', tool: 'echo', input: { n: 5 } }, ...more] })
    const deepReadonly = <T extends object>(target: T): T =>
      new Proxy(target, {
        get(t, key, receiver) {
          const value: unknown = Reflect.get(t, key, receiver)
          return typeof value === 'object' && value !== null ? deepReadonly(value) : value
        },
        set: () => false,
      })
    const view = deepReadonly(result)
    expect(Object.keys(view.tasks)).toEqual(['a', ...more.map((t) => t.id)])
    expect(view.tasks['a']?.output).toBe(5)
    expect(view.workflowHash).toBe(result.workflowHash)
    expect(view.workflowHash).toMatch(/^[0-9a-f]{64}$/)
    expect(taskReportAt(view, 0, 'a')?.output).toBe(5)
    const frozen = await engine.run({ id: 'r', tasks: [{ id: 'a', tool: 'echo', input: { n: 6 } }, ...more] })
    Object.freeze(frozen)
    expect(frozen.tasks['a']?.output).toBe(6)
    expect(frozen.workflowHash).toMatch(/^[0-9a-f]{64}$/)
    await engine.close()
  })

  it('computes the hash of a definition run once only when it is read, and holds it as plain data from the second run of a workflow on', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: (input) => input.n })
    const engine = createEngine({ tools: [echo], builtins: false })
    const compiled = engine.compile({ id: 'h', tasks: [{ id: 'a', tool: 'echo', input: { n: 1 } }] })
    const first = await engine.run(compiled)
    expect(knownHash(compiled)).toBeUndefined()
    expect(typeof Object.getOwnPropertyDescriptor(first, 'workflowHash')?.get).toBe('function')
    const second = await engine.run(compiled)
    expect(knownHash(compiled)).toBe(compiled.hash)
    expect(Object.getOwnPropertyDescriptor(second, 'workflowHash')).toMatchObject({ value: compiled.hash, enumerable: true })
    expect(first.workflowHash).toBe(compiled.hash)
    expect(Object.keys(second)).toEqual(Object.keys(first))
    await engine.close()
  })

  it('holds reason and usage after failed, when the run has them', async () => {
    const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'wait', input: z.object({}), run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped')))) })] })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'wait' }] })
    await new Promise((resolve) => setImmediate(resolve))
    handle.cancel('enough')
    const result = await handle.result
    expect(result.status).toBe('cancelled')
    expect(Object.keys(result).slice(-2)).toEqual(['failed', 'reason'])
    expect(result.reason).toBe('enough')
    await engine.close()
  })
})
