/**
 * Regressions at the run's boundaries with user code: values crossing a task boundary, deadlines,
 * cancellation from listeners, tasks added at run time, attempt signals. Each failed before its fix.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Clock } from '../../src/core/clock.js'
import { defineTool } from '../../src/core/tool.js'
import type { ToolContext } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

/** A promise with its resolve function, for tools the test finishes by hand. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('values that cross a task boundary', () => {
  it('gives every run of one compiled workflow the same static input, whatever a tool does to it', async () => {
    const pushAny = defineTool({ name: 'pushAny', input: z.object({ list: z.any() }), run: ({ list }: { list: number[] }) => (list.push(0), list.length) })
    const pushTyped = defineTool({ name: 'pushTyped', input: z.object({ list: z.array(z.number()) }), run: ({ list }) => (list.push(0), list.length) })
    const engine = createEngine({ builtins: false, tools: [pushAny, pushTyped] })
    const flow = engine.compile({
      id: 'w',
      tasks: [
        { id: 'any', tool: 'pushAny', input: { list: [] } },
        { id: 'typed', tool: 'pushTyped', input: { list: [] } },
      ],
    })
    const counts: unknown[] = []
    for (let k = 0; k < 3; k++) {
      const result = await engine.run(flow)
      // Each attempt gets its own copy of a static input, so the change stays in that attempt.
      counts.push([result.tasks['any']?.output, result.tasks['typed']?.output])
    }
    expect(counts).toEqual([
      [1, 1],
      [1, 1],
      [1, 1],
    ])
  })

  it('keeps an upstream output, sibling inputs and the report unchanged when a tool mutates its input', async () => {
    const seen: unknown[] = []
    const engine = createEngine({
      builtins: false,
      tools: [
        defineTool({ name: 'make', input: z.object({}), run: () => ({ items: [1, 2, 3] }) }),
        defineTool({
          name: 'mutate',
          input: z.object({ data: z.any() }),
          run: ({ data }: { data: { items: number[] } }) => {
            data.items.push(99)
            return 'mutated'
          },
        }),
        defineTool({ name: 'read', input: z.object({ data: z.any() }), run: ({ data }: { data: unknown }) => (seen.push(data), 'read') }),
      ],
    })
    const result = await engine.run({
      id: 'w',
      tasks: [
        { id: 'make', tool: 'make' },
        { id: 'mutate', tool: 'mutate', input: { data: '{{ tasks.make.output }}' } },
        { id: 'read', tool: 'read', input: { data: '{{ tasks.make.output }}' }, dependsOn: ['mutate'], trigger: 'all_done' },
      ],
    })
    expect(result.tasks['mutate']?.status).toBe('failed')
    expect(result.tasks['make']?.output).toEqual({ items: [1, 2, 3] })
    expect(seen).toEqual([{ items: [1, 2, 3] }])
  })

  it('does not let a completion handler change what dependents receive', async () => {
    const seen: unknown[] = []
    const engine = createEngine({
      builtins: false,
      tools: [
        defineTool({ name: 'make', input: z.object({}), run: () => ({ n: 1 }) }),
        defineTool({ name: 'read', input: z.object({ data: z.any() }), run: ({ data }: { data: unknown }) => (seen.push(data), 'ok') }),
      ],
    })
    let handlerError: unknown
    await engine.run(
      { id: 'w', tasks: [{ id: 'make', tool: 'make' }, { id: 'read', tool: 'read', input: { data: '{{ tasks.make.output }}' } }] },
      {
        onTaskComplete: {
          make: (completion) => {
            try {
              ;(completion.output as { n: number }).n = 2
            } catch (err) {
              handlerError = err
            }
          },
        },
      },
    )
    expect(handlerError).toBeInstanceOf(TypeError)
    expect(seen).toEqual([{ n: 1 }])
  })

  it('refuses an input built from templates that is over the size limit, naming task and field', async () => {
    const engine = createEngine({
      builtins: false,
      maxOutputBytes: 1000,
      tools: [
        defineTool({ name: 'make', input: z.object({}), run: () => 'x'.repeat(600) }),
        defineTool({ name: 'use', input: z.object({ a: z.string(), b: z.string() }), run: () => 'ran' }),
      ],
    })
    const result = await engine.run({
      id: 'w',
      tasks: [
        { id: 'make', tool: 'make' },
        { id: 'use', tool: 'use', input: { a: '{{ tasks.make.output }}', b: '{{ tasks.make.output }}' } },
      ],
    })
    expect(result.tasks['use']?.status).toBe('failed')
    expect(result.tasks['use']?.error?.code).toBe('TW_INPUT_TOO_LARGE')
    expect(result.tasks['use']?.error?.message).toContain('input of task "use"')
  })

  it('caps the gathered results of a forEach at the output limit', async () => {
    const engine = createEngine({
      builtins: false,
      maxOutputBytes: 1000,
      tools: [
        defineTool({ name: 'list', input: z.object({}), run: () => Array.from({ length: 50 }, (_, k) => k) }),
        defineTool({ name: 'item', input: z.object({ n: z.number() }), run: () => 'y'.repeat(100) }),
      ],
    })
    const result = await engine.run({
      id: 'w',
      tasks: [
        { id: 'list', tool: 'list' },
        { id: 'each', tool: 'item', forEach: '{{ tasks.list.output }}', input: { n: '{{ item }}' } },
      ],
    })
    expect(result.tasks['each']?.status).toBe('failed')
    expect(result.tasks['each']?.error?.code).toBe('TW_OUTPUT_TOO_LARGE')
    expect(result.tasks['each']?.error?.message).toContain('forEach task "each"')
  })
})

describe('user code that misbehaves', () => {
  it('fails a task whose synchronous result has a throwing `then` getter, or is a revoked Proxy', async () => {
    const revocable = Proxy.revocable({}, {})
    revocable.revoke()
    const engine = createEngine({
      builtins: false,
      tools: [
        defineTool({
          name: 'thenThrows',
          input: z.object({}),
          run: () =>
            ({
              get then(): never {
                throw new Error('then getter')
              },
            }) as unknown as string,
        }),
        defineTool({ name: 'revoked', input: z.object({}), run: () => revocable.proxy as unknown as string }),
      ],
    })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'thenThrows' }, { id: 'b', tool: 'revoked' }] })
    expect(result.tasks['a']?.status).toBe('failed')
    expect(result.tasks['a']?.error?.message).toContain('then getter')
    expect(result.tasks['b']?.status).toBe('failed')
  })

  it('reports a synchronous tool that ran past its timeout as timed out', async () => {
    let now = 0
    const clock: Clock = { now: () => now, wallNow: () => now, setTimer: () => () => {} }
    const engine = createEngine({
      builtins: false,
      clock,
      tools: [defineTool({ name: 'busy', input: z.object({}), run: () => ((now += 500), 'done') })],
    })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'busy', tool: 'busy', timeout: '100ms' }] })
    expect(result.tasks['busy']?.status).toBe('failed')
    expect(result.tasks['busy']?.error?.code).toBe('TW_TIMEOUT')
  })

  it('starts no tool once the first task:started listener cancels the run', async () => {
    let calls = 0
    const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'sync', input: z.object({}), run: () => (calls++, 'ok') })] })
    const handle = engine.start({ id: 'w', tasks: Array.from({ length: 50 }, (_, k) => ({ id: `t${k}`, tool: 'sync' })) })
    const off = handle.on('task:started', () => {
      off()
      handle.cancel('stop now')
    })
    const result = await handle.result
    expect(calls).toBe(0)
    expect(result.status).toBe('cancelled')
  })

  it('times out a 30-day timeout after 30 days, not after 1 ms', async () => {
    const engine = createEngine({
      builtins: false,
      tools: [defineTool({ name: 'wait', input: z.object({}), run: () => new Promise<string>((resolve) => setTimeout(() => resolve('waited'), 30)) })],
    })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'w', tool: 'wait', timeout: '30d' }] })
    expect(result.tasks['w']?.status).toBe('succeeded')
  })

  it('refuses a run id that is not a safe name', () => {
    const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'x', input: z.object({}), run: () => 1 })] })
    const flow = { id: 'w', tasks: [{ id: 'a', tool: 'x' }] }
    expect(() => engine.start(flow, { runId: '../../etc/passwd\0\n' })).toThrow(/runId/)
    expect(engine.start(flow, { runId: 'conversation-42:run.7_a' }).id).toBe('conversation-42:run.7_a')
  })
})

describe('attempt signals', () => {
  it('shows a tool that reads its signal after a timeout the timeout as the reason', async () => {
    const clock = new ManualClock()
    let captured: ToolContext | undefined
    const gate = deferred()
    const engine = createEngine({
      builtins: false,
      clock,
      tools: [
        defineTool({
          name: 'slow',
          input: z.object({}),
          run: async (_input, ctx) => {
            captured = ctx
            await gate.promise
            return 'late'
          },
        }),
      ],
    })
    const handle = engine.start({ id: 'w', tasks: [{ id: 's', tool: 'slow', timeout: '100ms' }] })
    await Promise.resolve()
    await Promise.resolve()
    clock.advance(150)
    const result = await handle.result
    expect(result.tasks['s']?.error?.code).toBe('TW_TIMEOUT')
    const signal = (captured as ToolContext).signal
    expect(signal.aborted).toBe(true)
    expect((signal.reason as { code?: string }).code).toBe('TW_TIMEOUT')
    gate.resolve()
  })

  it('aborts the signal of a failed attempt before the next attempt starts', async () => {
    const signals: AbortSignal[] = []
    const engine = createEngine({
      builtins: false,
      random: () => 0,
      tools: [
        defineTool({
          name: 'flaky',
          input: z.object({}),
          run: (_input, ctx) => {
            signals.push(ctx.signal)
            if (ctx.attempt === 1) throw new Error('first attempt fails')
            return signals[0]?.aborted === true ? 'attempt 1 was stopped' : 'attempt 1 still running'
          },
        }),
      ],
    })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'f', tool: 'flaky', retry: { maxAttempts: 2, initialDelay: '1ms' } }] })
    expect(result.tasks['f']?.output).toBe('attempt 1 was stopped')
    expect((signals[0]?.reason as { message?: string }).message).toContain('first attempt fails')
  })

  it('aborts the signals of running attempts with the cancel reason', async () => {
    let signal: AbortSignal | undefined
    const engine = createEngine({
      builtins: false,
      tools: [defineTool({ name: 'hold', input: z.object({}), run: (_input, ctx) => ((signal = ctx.signal), new Promise<string>(() => {})) })],
    })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'h', tool: 'hold' }] })
    handle.on('task:started', () => queueMicrotask(() => handle.cancel('user pressed stop')))
    await handle.result
    expect(signal?.aborted).toBe(true)
    expect((signal?.reason as { message?: string }).message).toBe('user pressed stop')
  })
})

describe('tasks added at run time', () => {
  const noop = defineTool({ name: 'noop', input: z.object({ n: z.unknown().optional() }), run: () => 'ok' })

  it('accepts handle.addTask right after engine.start()', async () => {
    const engine = createEngine({ builtins: false, tools: [noop] })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'noop' }] })
    handle.addTask({ id: 'late', tool: 'noop', dependsOn: ['a'] })
    const result = await handle.result
    expect(result.tasks['late']?.status).toBe('succeeded')
  })

  it('settles a run whose handle-added task is skipped at once and whose handler cancels the run', async () => {
    const gate = deferred<string>()
    const engine = createEngine({ builtins: false, tools: [noop, defineTool({ name: 'hold', input: z.object({}), run: () => gate.promise })] })
    const handle = engine.start(
      { id: 'w', tasks: [{ id: 'hold', tool: 'hold' }] },
      { onTaskComplete: { x: () => handle.cancel('handler stops the run') } },
    )
    await new Promise<void>((resolve) => handle.on('task:started', () => resolve()))
    handle.addTask({ id: 'x', tool: 'noop', when: 'false' })
    const result = await handle.result
    expect(result.status).toBe('cancelled')
    gate.resolve('done')
  })

  it('keeps the spec as it was when added, and refuses one that is not plain data', async () => {
    const engine = createEngine({ builtins: false, tools: [noop] })
    const handle = engine.start({ id: 'w', tasks: [{ id: 'a', tool: 'noop' }] })
    const spec = { id: 'b', tool: 'noop', input: { n: 1 } }
    handle.addTask(spec)
    spec.input.n = 2
    spec.id = 'renamed'
    expect(() => handle.addTask({ id: 'c', tool: 'noop', input: { n: () => 1 } })).toThrow(/added task "c": input\.n is a function/)
    expect(() => handle.addTask({ id: 'd', tool: 'noop', input: { n: 10n } })).toThrow(/added task "d": input\.n is a bigint/)
    const result = await handle.result
    expect(Object.keys(result.tasks).sort()).toEqual(['a', 'b'])
  })

  it('lets a tool add a chain in one attempt', async () => {
    const order: string[] = []
    const engine = createEngine({
      builtins: false,
      tools: [
        defineTool({ name: 'step', input: z.object({}), run: (_input, ctx) => (order.push(ctx.taskId), ctx.taskId) }),
        defineTool({
          name: 'plan',
          input: z.object({}),
          run: (_input, ctx) => {
            ctx.addTask({ id: 'step1', tool: 'step' })
            ctx.addTask({ id: 'step2', tool: 'step', dependsOn: ['step1'] })
            return 'planned'
          },
        }),
      ],
    })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'plan', tool: 'plan' }] })
    expect(result.status).toBe('succeeded')
    expect(order).toEqual(['step1', 'step2'])
  })

  it('refuses a function in a task a tool adds, naming the task and field', async () => {
    const engine = createEngine({
      builtins: false,
      tools: [noop, defineTool({ name: 'plan', input: z.object({}), run: (_input, ctx) => (ctx.addTask({ id: 'bad', tool: 'noop', input: { n: () => 1 } }), 'x') })],
    })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'plan', tool: 'plan' }] })
    expect(result.tasks['plan']?.status).toBe('failed')
    expect(result.tasks['plan']?.error?.message).toContain('added task "bad": input.n is a function')
  })
})

describe('wall time', () => {
  it('takes the run start time from the clock port', async () => {
    const clock = new ManualClock(0, Date.UTC(2030, 0, 2, 3, 4, 5))
    const engine = createEngine({ builtins: false, clock, tools: [defineTool({ name: 'x', input: z.object({}), run: () => 1 })] })
    const result = await engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'x' }] })
    expect(result.startedAt).toBe('2030-01-02T03:04:05.000Z')
  })
})

describe('the pinned definition', () => {
  it('keeps the snapshot, the hash and added-task defaults when the caller changes its object after start', async () => {
    const gate = deferred<string>()
    const seen: unknown[] = []
    const engine = createEngine({
      builtins: false,
      tools: [
        defineTool({ name: 'hold', input: z.object({}), run: () => gate.promise }),
        defineTool({ name: 'x', input: z.object({}), run: (_input, ctx) => (seen.push(ctx.taskId), 'x') }),
      ],
    })
    const definition = { id: 'w', defaults: { timeout: '5s' }, tasks: [{ id: 'a', tool: 'hold' }] }
    const handle = engine.start(definition)
    const compiledHash = engine.compile({ id: 'w', defaults: { timeout: '5s' }, tasks: [{ tool: 'hold', id: 'a' }] }).hash
    definition.id = 'changed'
    definition.defaults.timeout = '1ms'
    definition.tasks.push({ id: 'b', tool: 'hold' })
    handle.addTask({ id: 'late', tool: 'x' })
    gate.resolve('done')
    const result = await handle.result
    expect(result.workflowId).toBe('w')
    expect(result.workflowHash).toBe(compiledHash)
    expect(Object.keys(result.tasks).sort()).toEqual(['a', 'late'])
    expect(result.tasks['late']?.status).toBe('succeeded')
  })

  it('refuses a definition whose input holds a BigInt, naming the problem', () => {
    const engine = createEngine({ builtins: false, tools: [defineTool({ name: 'x', input: z.object({ n: z.unknown() }), run: () => 1 })] })
    expect(() => engine.compile({ id: 'w', tasks: [{ id: 'a', tool: 'x', input: { n: 1n } }] })).toThrow(/not plain data/)
  })
})
