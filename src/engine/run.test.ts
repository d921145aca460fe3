import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from './engine.js'
import { ManualClock } from '../testing/manual-clock.js'
import { defineTool } from '../core/tool.js'
import { TerminalError, TaskweaveError } from '../core/errors.js'
import { sleep } from '../core/clock.js'
import type { TaskSpec, WorkflowSpec } from '../workflow/types.js'
import type { TaskweaveEvent } from '../observe/events.js'
import { scriptedTools } from '../../test/helpers.js'

function setup(options: { concurrency?: number; random?: () => number } = {}) {
  const clock = new ManualClock()
  const tools = scriptedTools(clock)
  const engine = createEngine({ clock, tools: [tools.work], builtins: false, random: options.random ?? (() => 0.5), ...(options.concurrency ? { concurrency: options.concurrency } : {}) })
  const run = (spec: WorkflowSpec, runOptions: Parameters<typeof engine.start>[1] = {}) => clock.runUntilSettled(engine.run(spec, runOptions))
  return { clock, tools, engine, run }
}

const t = (id: string, extra: Partial<TaskSpec> & { ms?: number; value?: unknown; failTimes?: number; code?: string; retryable?: boolean } = {}): TaskSpec => {
  const { ms, value, failTimes, code, retryable, ...rest } = extra
  return { id, tool: 'test.work', input: { ms: ms ?? 10, ...(value !== undefined ? { value } : {}), ...(failTimes ? { failTimes } : {}), ...(code ? { code } : {}), ...(retryable !== undefined ? { retryable } : {}) }, ...rest }
}

describe('dependencies and concurrency', () => {
  it('starts a task only after every dependency succeeded', async () => {
    const { run, tools } = setup()
    const result = await run({ id: 'w', tasks: [t('c', { dependsOn: ['a', 'b'] }), t('a', { ms: 30 }), t('b', { ms: 10 })] })
    expect(result.status).toBe('succeeded')
    expect(tools.started.indexOf('c')).toBe(2)
    expect(result.tasks['c']!.startedAt).toBe(30)
  })

  it('runs independent tasks at once, up to the concurrency limit', async () => {
    const { run, tools } = setup()
    const tasks = Array.from({ length: 10 }, (_, i) => t(`t${i}`, { ms: 100 }))
    const result = await run({ id: 'w', tasks }, { concurrency: 4 })
    expect(result.status).toBe('succeeded')
    expect(tools.maxRunning).toBe(4)
    expect(result.durationMs).toBe(300) // ceil(10 / 4) waves of 100 ms
  })

  it('applies the engine-wide limit across runs', async () => {
    const { clock, tools, engine } = setup({ concurrency: 3 })
    const spec = { id: 'w', tasks: Array.from({ length: 4 }, (_, i) => t(`t${i}`, { ms: 100 })) }
    const both = Promise.all([engine.run(spec), engine.run(spec)])
    await clock.runUntilSettled(both)
    expect(tools.maxRunning).toBe(3)
  })

  it('caps each concurrency group', async () => {
    const { run, tools } = setup()
    const tasks = [...Array.from({ length: 6 }, (_, i) => t(`llm${i}`, { ms: 100, group: 'llm' })), t('other', { ms: 100 })]
    const result = await run({ id: 'w', limits: { groups: { llm: 2 } }, tasks })
    expect(result.status).toBe('succeeded')
    expect(tools.maxRunning).toBe(3) // 2 of the group + the other task
    expect(result.durationMs).toBe(300)
  })
})

describe('run times', () => {
  it('times a run from its start, its roots start then, and its wall start is when it was made', async () => {
    const clock = new ManualClock(1000, Date.UTC(2026, 0, 1))
    const tools = scriptedTools(clock)
    const engine = createEngine({ clock, tools: [tools.work], builtins: false })
    const handle = engine.start({ id: 'w', tasks: [t('a', { ms: 40 }), t('b', { ms: 10, dependsOn: ['a'] })] })
    // Time passes between making the run and its start (the next microtask): the monotonic start
    // (which the durations count from) is the start, not the making.
    clock.advance(5)
    const result = await clock.runUntilSettled(handle.result)
    expect(result.startedAt).toBe('2026-01-01T00:00:01.000Z')
    expect(result.tasks['a']!.startedAt).toBe(1005)
    expect(result.tasks['b']!.finishedAt).toBe(1055)
    expect(result.durationMs).toBe(50)
  })

  it('counts the time a tool input check took: the check is user code, and the clock is read again after it', async () => {
    for (const tasks of [[{ id: 'a', tool: 'slow', input: { v: '{{ inputs.doc }}' } }], [{ id: 'first', tool: 'quick' }, { id: 'a', tool: 'slow', input: { v: '{{ inputs.doc }}' }, dependsOn: ['first'] }]]) {
      const clock = new ManualClock(1000)
      // A refinement that takes 100 ms (on the manual clock) and then refuses the input.
      const slow = defineTool({ name: 'slow', input: z.object({ v: z.string().refine(() => (clock.advance(100), false), 'no') }), run: () => 1 })
      const quick = defineTool({ name: 'quick', input: z.object({}), run: () => 1 })
      const engine = createEngine({ clock, tools: [slow, quick], builtins: false })
      const result = await clock.runUntilSettled(engine.run({ id: 'w', inputs: { doc: { type: 'string' } }, tasks }, { inputs: { doc: 'x' } }))
      expect(result.tasks['a']!.status).toBe('failed')
      expect(result.tasks['a']!.finishedAt).toBe(1100)
      expect(result.durationMs).toBe(100)
    }
  })

  it('gives a run cancelled before it started no duration, and the time it was made', async () => {
    const clock = new ManualClock(1000, Date.UTC(2026, 0, 1))
    const tools = scriptedTools(clock)
    const engine = createEngine({ clock, tools: [tools.work], builtins: false })
    const handle = engine.start({ id: 'w', tasks: [t('a')] })
    clock.advance(5)
    handle.cancel('not needed')
    const result = await handle.result
    expect(result.status).toBe('cancelled')
    expect(result.startedAt).toBe('2026-01-01T00:00:01.000Z')
    expect(result.durationMs).toBe(0)
    expect(tools.started).toEqual([])
  })
})

describe('ready-queue order', () => {
  it('runs higher priority first, then FIFO', async () => {
    const { run, tools } = setup()
    await run({ id: 'w', tasks: [t('low1'), t('high', { priority: 5 }), t('low2'), t('mid', { priority: 1 })] }, { concurrency: 1 })
    expect(tools.started).toEqual(['high', 'mid', 'low1', 'low2'])
  })

  it('prefers the task with the longest remaining critical path', async () => {
    const { run, tools } = setup()
    // "short" is declared first but "head" leads a 3-task chain: critical path first shortens the run.
    const result = await run(
      {
        id: 'w',
        tasks: [t('short', { ms: 10, cost: 10 }), t('head', { ms: 10, cost: 10 }), t('mid', { ms: 10, cost: 10, dependsOn: ['head'] }), t('tail', { ms: 10, cost: 10, dependsOn: ['mid'] })],
      },
      { concurrency: 1 },
    )
    expect(tools.started[0]).toBe('head')
    expect(result.status).toBe('succeeded')
  })

  it('uses measured mean durations when no cost is given', async () => {
    const clock = new ManualClock()
    const slow = defineTool({ name: 'slow', input: z.object({}), run: (_i, ctx) => sleep(clock, 100, ctx.signal) })
    const fast = defineTool({ name: 'fast', input: z.object({}), run: (_i, ctx) => sleep(clock, 1, ctx.signal) })
    const engine = createEngine({ clock, tools: [slow, fast], builtins: false })
    const order: string[] = []
    engine.events.on('task:started', (e) => order.push(e.taskId))
    const spec = { id: 'w', tasks: [{ id: 'f', tool: 'fast' }, { id: 's', tool: 'slow' }] }
    await clock.runUntilSettled(engine.run(spec, { concurrency: 1 })) // measures both tools
    order.length = 0
    await clock.runUntilSettled(engine.run(spec, { concurrency: 1 }))
    expect(order).toEqual(['s', 'f'])
  })
})

describe('trigger rules, conditions and skips', () => {
  it('skips dependents of a failed task with a reason, and lists them as blocked', async () => {
    const { run } = setup()
    const result = await run({ id: 'w', tasks: [t('a', { failTimes: 1 }), t('b', { dependsOn: ['a'] }), t('c', { dependsOn: ['b'] }), t('other')] })
    expect(result.status).toBe('partial')
    expect(result.tasks['b']).toMatchObject({ status: 'skipped', reason: 'upstream task "a" failed' })
    expect(result.tasks['c']).toMatchObject({ status: 'skipped', reason: 'upstream task "b" was skipped' })
    expect(result.tasks['a']!.blocked).toEqual(['b', 'c'])
    expect(result.tasks['a']!.error).toMatchObject({ code: 'E_SCRIPTED', message: 'scripted failure 1 of a' })
    expect(result.tasks['other']!.status).toBe('succeeded')
    expect(result.failed).toEqual(['a'])
  })

  it('all_done runs after any outcome; any_succeeded needs one success; none_failed accepts condition skips', async () => {
    const { run } = setup()
    const result = await run({
      id: 'w',
      tasks: [
        t('bad', { failTimes: 1 }),
        t('good'),
        t('off', { when: 'false' }),
        t('cleanup', { dependsOn: ['bad', 'good'], trigger: 'all_done' }),
        t('either', { dependsOn: ['bad', 'good'], trigger: 'any_succeeded' }),
        t('neither', { dependsOn: ['bad'], trigger: 'any_succeeded' }),
        t('tolerant', { dependsOn: ['good', 'off'], trigger: 'none_failed' }),
        t('strict', { dependsOn: ['good', 'bad'], trigger: 'none_failed' }),
      ],
    })
    expect(result.tasks['cleanup']!.status).toBe('succeeded')
    expect(result.tasks['either']!.status).toBe('succeeded')
    expect(result.tasks['neither']).toMatchObject({ status: 'skipped', reason: 'no upstream task succeeded' })
    expect(result.tasks['tolerant']!.status).toBe('succeeded')
    expect(result.tasks['strict']).toMatchObject({ status: 'skipped', reason: 'upstream task "bad" failed' })
  })

  it('evaluates when conditions over inputs and outputs, and a false condition is not a failure', async () => {
    const { run } = setup()
    const result = await run(
      {
        id: 'w',
        inputs: { mode: { type: 'string' }, limit: { type: 'number', default: 3 } },
        tasks: [
          t('probe', { value: { count: 5, ok: true } }),
          t('big', { when: 'tasks.probe.output.count > inputs.limit && tasks.probe.output.ok' }),
          t('full', { when: 'inputs.mode == "full"' }),
          t('after', { dependsOn: ['full'] }),
        ],
      },
      { inputs: { mode: 'quick' } },
    )
    expect(result.status).toBe('succeeded')
    expect(result.tasks['big']!.status).toBe('succeeded')
    expect(result.tasks['full']).toMatchObject({ status: 'skipped', reason: 'condition is false: inputs.mode == "full"' })
    expect(result.tasks['after']).toMatchObject({ status: 'skipped', reason: 'upstream task "full" was skipped' })
  })

  it('fails a task whose condition cannot be evaluated, naming the condition', async () => {
    const { run } = setup()
    const result = await run({ id: 'w', tasks: [t('a', { value: { x: 1 } }), t('b', { when: 'tasks.a.output.missing == 1' })] })
    expect(result.tasks['b']!.status).toBe('failed')
    expect(result.tasks['b']!.error).toMatchObject({ code: 'TW_EXPRESSION' })
    expect(result.tasks['b']!.error!.message).toContain('tasks.a.output.missing == 1')
  })
})

describe('failure handling', () => {
  it('failFast cancels the rest and fails the run', async () => {
    const { run } = setup()
    const result = await run({ id: 'w', failFast: true, tasks: [t('a', { ms: 10, failTimes: 1 }), t('slow', { ms: 1000 }), t('later', { dependsOn: ['slow'] })] })
    expect(result.status).toBe('failed')
    expect(result.tasks['slow']).toMatchObject({ status: 'cancelled', reason: 'failFast: task "a" failed' })
    expect(result.tasks['later']!.status).toBe('cancelled')
    expect(result.durationMs).toBe(10)
  })

  it('a run where every task failed is failed; a mixed one is partial', async () => {
    const { run } = setup()
    expect((await run({ id: 'w', tasks: [t('a', { failTimes: 1 })] })).status).toBe('failed')
    expect((await run({ id: 'w', tasks: [t('a2', { failTimes: 1 }), t('b')] })).status).toBe('partial')
  })
})

describe('retries', () => {
  it('retries with exponential backoff and full jitter, then succeeds', async () => {
    const { engine, clock } = setup({ random: () => 0.5 })
    const delays: number[] = []
    engine.events.on('task:retrying', (e) => delays.push(e.delayMs))
    const result = await clock.runUntilSettled(
      engine.run({ id: 'w', tasks: [t('a', { ms: 0, failTimes: 3, retry: { maxAttempts: 5, initialDelay: 1000, factor: 2, maxDelay: 3000 } })] }),
    )
    expect(result.tasks['a']).toMatchObject({ status: 'succeeded', attempts: 4 })
    expect(delays).toEqual([500, 1000, 1500]) // 0.5 × min(3000, 1000·2^k)
    expect(result.tasks['a']!.failedAttempts).toHaveLength(3)
    expect(result.durationMs).toBe(3000)
  })

  it('stops at maxAttempts and reports every attempt', async () => {
    const { run } = setup()
    const result = await run({ id: 'w', tasks: [t('a', { failTimes: 9, retry: { maxAttempts: 3, initialDelay: 10 } })] })
    expect(result.tasks['a']).toMatchObject({ status: 'failed', attempts: 3 })
    expect(result.tasks['a']!.failedAttempts!.map((a) => a.attempt)).toEqual([1, 2])
  })

  it('retries only the codes listed in retryOn', async () => {
    const { run } = setup()
    const result = await run({
      id: 'w',
      tasks: [
        t('listed', { failTimes: 1, code: 'ECONNRESET', retry: { maxAttempts: 3, retryOn: ['ECONNRESET'] } }),
        t('unlisted', { failTimes: 1, code: 'EBADREQ', retry: { maxAttempts: 3, retryOn: ['ECONNRESET'] } }),
      ],
    })
    expect(result.tasks['listed']).toMatchObject({ status: 'succeeded', attempts: 2 })
    expect(result.tasks['unlisted']).toMatchObject({ status: 'failed', attempts: 1 })
  })

  it('never retries a TerminalError', async () => {
    const clock = new ManualClock()
    let calls = 0
    const refuse = defineTool({
      name: 'refuse',
      input: z.object({}),
      run: () => {
        calls++
        throw new TerminalError('input rejected by model', { type: 'BadInput' })
      },
    })
    const engine = createEngine({ clock, tools: [refuse], builtins: false })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'refuse', retry: { maxAttempts: 5 } }] }))
    expect(calls).toBe(1)
    expect(result.tasks['a']!.error).toMatchObject({ code: 'TW_TERMINAL', retryable: false, details: { type: 'BadInput' } })
  })

  it('waits at least the Retry-After a provider asked for', async () => {
    const clock = new ManualClock()
    let calls = 0
    const limited = defineTool({
      name: 'limited',
      input: z.object({}),
      run: () => {
        if (++calls === 1) throw new TaskweaveError('HTTP_429', 'slow down', { details: { retryAfterMs: 7000 } })
        return 'ok'
      },
    })
    const engine = createEngine({ clock, tools: [limited], builtins: false, random: () => 0 })
    const result = await clock.runUntilSettled(engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'limited', retry: { maxAttempts: 2 } }] }))
    expect(result.tasks['a']).toMatchObject({ status: 'succeeded', attempts: 2 })
    expect(result.durationMs).toBe(7000)
  })
})

describe('timeouts and cancellation', () => {
  it('times out an attempt, aborts its signal, and retries it', async () => {
    const { run, engine } = setup()
    const errors: string[] = []
    engine.events.on('task:retrying', (e) => errors.push(e.error.code))
    const result = await run({ id: 'w', tasks: [t('a', { ms: 3_600_000, timeout: '30m', retry: { maxAttempts: 2, initialDelay: '1h' } })] })
    expect(result.tasks['a']).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'TW_TIMEOUT' } })
    expect(errors).toEqual(['TW_TIMEOUT'])
  })

  it('runs a workflow with hour-long timeouts and backoffs instantly on the manual clock', async () => {
    const { run } = setup({ random: () => 1 })
    const started = performance.now()
    const result = await run({ id: 'w', tasks: [t('a', { ms: 7_200_000, failTimes: 2, retry: { maxAttempts: 3, initialDelay: '1h', maxDelay: '1h' } })] })
    expect(result.tasks['a']!.status).toBe('succeeded')
    expect(result.durationMs).toBe(3 * 7_200_000 + 2 * 3_600_000)
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('cancelling a run aborts running attempts and starts nothing new', async () => {
    const { clock, engine, tools } = setup()
    const aborted: string[] = []
    const watch = defineTool({
      name: 'watch',
      input: z.object({}),
      run: (_i, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.push(ctx.taskId)
            reject(ctx.signal.reason)
          })
        }),
    })
    engine.registry.register(watch)
    const controller = new AbortController()
    const handle = engine.start(
      { id: 'w', tasks: [{ id: 'w1', tool: 'watch' }, { id: 'w2', tool: 'watch' }, t('next', { dependsOn: ['w1'] }), t('queued')] },
      { concurrency: 2, signal: controller.signal },
    )
    clock.setTimer(50, () => controller.abort(new Error('user pressed stop')))
    const result = await clock.runUntilSettled(handle.result)
    expect(result.status).toBe('cancelled')
    expect(result.reason).toBe('user pressed stop')
    expect(aborted.sort()).toEqual(['w1', 'w2'])
    expect(result.tasks['next']!.status).toBe('cancelled')
    expect(result.tasks['queued']).toMatchObject({ status: 'cancelled', attempts: 0 })
    expect(tools.started).not.toContain('queued')
  })
})

describe('forEach and dynamic tasks', () => {
  it('fans out over a list under the limits and collects outputs in order', async () => {
    const { run, tools } = setup()
    const result = await run(
      {
        id: 'w',
        tasks: [
          t('list', { value: [3, 1, 2, 5] }),
          { id: 'each', tool: 'test.work', forEach: '{{ tasks.list.output }}', input: { ms: '{{ item }}', value: '{{ index }}' } },
          { id: 'sum', tool: 'test.work', input: { ms: 0, value: '{{ tasks.each.output }}' } },
        ],
      },
      { concurrency: 2 },
    )
    expect(result.status).toBe('succeeded')
    expect(result.tasks['each']!.output).toEqual([0, 1, 2, 3])
    expect(result.tasks['sum']!.output).toEqual([0, 1, 2, 3])
    expect(result.tasks['each[2]']).toMatchObject({ status: 'succeeded', forEachOf: 'each' })
    expect(tools.maxRunning).toBe(2)
  })

  it('fans out over 1,000 items (the run grows well past its first size) and joins their outputs in order', async () => {
    const { run } = setup({ concurrency: 50 })
    const items = Array.from({ length: 1000 }, (_, i) => i)
    const result = await run({
      id: 'w',
      tasks: [t('list', { value: items, ms: 1 }), { id: 'each', tool: 'test.work', forEach: '{{ tasks.list.output }}', input: { ms: 1, value: '{{ item }}' } }, t('after', { dependsOn: ['each'], ms: 1, value: '{{ tasks.each.output }}' })],
    })
    expect(result.status).toBe('succeeded')
    expect(result.counts.succeeded).toBe(1003)
    expect(result.tasks['after']!.output).toEqual(items)
    expect(result.tasks['each[999]']).toMatchObject({ status: 'succeeded', output: 999, forEachOf: 'each' })
  })

  it('fails the forEach task when an item fails, naming it', async () => {
    const { run } = setup()
    const result = await run({
      id: 'w',
      tasks: [t('list', { value: [0, 1] }), { id: 'each', tool: 'test.work', forEach: '{{ tasks.list.output }}', input: { ms: 1, failTimes: '{{ item }}' } }],
    })
    expect(result.tasks['each']!.status).toBe('failed')
    expect(result.tasks['each']!.error!.message).toContain('"each[1]"')
  })

  it('lets a completion handler and a tool add tasks that join the report', async () => {
    const { run, engine } = setup()
    const planner = defineTool({
      name: 'plan',
      input: z.object({}),
      run: (_i, ctx) => {
        ctx.addTask({ id: 'from-tool', tool: 'test.work', input: { ms: 5, value: 'tool-added' } })
        return ['x', 'y']
      },
    })
    engine.registry.register(planner)
    const result = await run(
      { id: 'w', tasks: [{ id: 'plan', tool: 'plan' }] },
      {
        onTaskComplete: {
          plan: (done, control) => {
            for (const step of done.output as string[]) control.addTask({ id: `step-${step}`, tool: 'test.work', dependsOn: ['from-tool'], input: { ms: 5, value: step } })
          },
        },
      },
    )
    expect(result.status).toBe('succeeded')
    expect(result.tasks['from-tool']).toMatchObject({ status: 'succeeded', output: 'tool-added', addedBy: 'plan' })
    expect(result.tasks['step-x']).toMatchObject({ status: 'succeeded', output: 'x', addedBy: 'plan' })
    expect(result.tasks['step-y']!.startedAt).toBeGreaterThanOrEqual(result.tasks['from-tool']!.finishedAt!)
  })

  it('rejects an added task with an unknown dependency', async () => {
    const { run } = setup()
    let message = ''
    await run(
      { id: 'w', tasks: [t('a')] },
      {
        onTaskComplete: (_done, control) => {
          try {
            control.addTask({ id: 'b', tool: 'test.work', dependsOn: ['ghost'] })
          } catch (err) {
            message = (err as Error).message
          }
        },
      },
    )
    expect(message).toContain('dependency "ghost" is not a task of this workflow')
  })
})

describe('templates at run time', () => {
  it('keeps the type of a whole reference and renders interpolation as text', async () => {
    const { run } = setup()
    const result = await run({
      id: 'w',
      tasks: [
        t('src', { value: { items: [{ url: 'https://a', n: 2 }] } }),
        t('typed', { value: '{{ tasks.src.output.items[0] }}' }),
        t('text', { value: 'n={{ tasks.src.output.items[0].n }} url={{ tasks.src.output.items[0].url }}' }),
      ],
    })
    expect(result.tasks['typed']!.output).toEqual({ url: 'https://a', n: 2 })
    expect(result.tasks['text']!.output).toBe('n=2 url=https://a')
  })

  it('fails with an error naming the task field and expression when a path is missing', async () => {
    const { run } = setup()
    const result = await run({ id: 'w', tasks: [t('src', { value: { items: [] } }), t('use', { value: '{{ tasks.src.output.items[0].url }}' })] })
    expect(result.tasks['use']!.status).toBe('failed')
    expect(result.tasks['use']!.error).toMatchObject({ code: 'TW_TEMPLATE' })
    expect(result.tasks['use']!.error!.message).toBe('task "use": input.value: {{ tasks.src.output.items[0].url }}: index 0 is out of range (length 0)')
  })

  it('never lets an output pollute prototypes', async () => {
    const clock = new ManualClock()
    const evil = defineTool({
      name: 'evil',
      input: z.object({}),
      run: () => JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"x": 1}}, "msg": "{{ inputs.secret }} ${process.env.HOME}"}') as unknown,
    })
    const echo = defineTool({ name: 'echo', input: z.object({ value: z.unknown() }), run: ({ value }) => value })
    const engine = createEngine({ clock, tools: [evil, echo], builtins: false })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'evil', tool: 'evil' }, { id: 'echo', tool: 'echo', input: { value: '{{ tasks.evil.output.msg }}' } }] })
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(({} as Record<string, unknown>)['x']).toBeUndefined()
    expect(result.tasks['echo']!.output).toBe('{{ inputs.secret }} ${process.env.HOME}') // data, never expanded again
  })
})

describe('outputs', () => {
  it('fails a task whose output is over the size limit or not plain data', async () => {
    const clock = new ManualClock()
    const big = defineTool({ name: 'big', input: z.object({}), run: () => 'x'.repeat(2048) })
    const bigint = defineTool({ name: 'bigint', input: z.object({}), run: () => ({ n: 10n }) })
    const engine = createEngine({ clock, tools: [big, bigint], builtins: false, maxOutputBytes: 1024 })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'big' }, { id: 'b', tool: 'bigint' }] })
    expect(result.tasks['a']!.error).toMatchObject({ code: 'TW_OUTPUT_TOO_LARGE' })
    expect(result.tasks['a']!.error!.message).toContain('output of task "a" is 2.0 KiB of JSON; the limit is 1.0 KiB')
    expect(result.tasks['b']!.error).toMatchObject({ code: 'TW_OUTPUT_NOT_SERIALIZABLE' })
  })
})

describe('events', () => {
  it('emits every transition in order, and streams them through an async iterator', async () => {
    const { engine, clock } = setup()
    const handle = engine.start({ id: 'w', tasks: [t('a', { failTimes: 1, retry: { maxAttempts: 2, initialDelay: 10 } }), t('b', { dependsOn: ['a'] })] })
    const seen: TaskweaveEvent[] = []
    const collecting = (async () => {
      for await (const event of handle.events()) seen.push(event)
    })()
    await clock.runUntilSettled(handle.result)
    await collecting
    const lines = seen.map((e) => ('taskId' in e ? `${e.type} ${e.taskId}` : e.type))
    expect(lines).toEqual([
      'run:started',
      'task:ready a',
      'task:started a',
      'task:retrying a',
      'task:ready a',
      'task:started a',
      'task:succeeded a',
      'task:ready b',
      'task:started b',
      'task:succeeded b',
      'run:finished',
    ])
  })

  it('reports progress from tools', async () => {
    const clock = new ManualClock()
    const steps = defineTool({
      name: 'steps',
      input: z.object({}),
      run: (_i, ctx) => {
        ctx.progress({ fraction: 0.5, message: 'half' })
        return 1
      },
    })
    const engine = createEngine({ clock, tools: [steps], builtins: false })
    const progress: unknown[] = []
    engine.events.on('task:progress', (e) => progress.push(e.progress))
    await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'steps' }] })
    expect(progress).toEqual([{ fraction: 0.5, message: 'half' }])
  })
})

describe('engine limits', () => {
  it('refuses a run input over maxInputBytes before anything runs, and a limit that is not a positive size', async () => {
    expect(() => createEngine({ builtins: false, maxInputBytes: 0 })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
    const { tools } = setup()
    const engine = createEngine({ builtins: false, tools: [tools.work], maxInputBytes: 100 })
    const flow = { id: 'w', inputs: { doc: { type: 'string' as const } }, tasks: [{ id: 'a', tool: 'test.work', input: { ms: 1, value: '{{ inputs.doc }}' } }] }
    expect(() => engine.start(flow, { inputs: { doc: 'x'.repeat(200) } })).toThrow(expect.objectContaining({ code: 'TW_VALIDATION', issues: [expect.objectContaining({ field: 'inputs.doc' })] }))
    expect(tools.started).toEqual([])
  })
})

describe('a run option that is not what it says', () => {
  it('a signal that is not an AbortSignal is refused when the run starts, not thrown later where nobody can catch it', async () => {
    const { engine } = setup()
    expect(() => engine.start({ id: 'w', tasks: [t('a')] }, { signal: {} as AbortSignal })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', message: expect.stringContaining('option "signal" must be an AbortSignal') as unknown }))
    await expect(engine.run({ id: 'w', tasks: [t('a')] }, { signal: 'stop' as unknown as AbortSignal })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    expect(engine.stats().activeRuns).toBe(0)
    await engine.close()
  })
})
