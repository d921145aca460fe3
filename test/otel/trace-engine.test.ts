import { context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import { traceEngine } from '../../src/otel/trace-engine.js'
import { MemoryRunStore } from '../../src/stores/memory.js'
import { heldTool } from '../helpers.js'
import { ManualClock } from '../../src/testing/manual-clock.js'
import { sleep } from '../../src/core/clock.js'
import { RateLimitedError } from '../../src/core/errors.js'

function tracing() {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, tracer: provider.getTracer('test') }
}

const ms = (time: readonly [number, number]): number => time[0] * 1000 + time[1] / 1e6
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId

let flaky = 0
const ok = defineTool({ name: 'test.ok', input: z.object({}), run: () => 1 })
const once = defineTool({ name: 'test.flaky', input: z.object({}), run: () => {
  if (flaky++ === 0) throw new Error('first attempt fails')
  return 2
} })
const bad = defineTool({ name: 'test.bad', input: z.object({}), run: () => {
  throw new Error('always')
} })

describe('traceEngine', () => {
  it('makes a span per run, per task under it and per attempt under that, with errors on the spans they ended', async () => {
    flaky = 0
    const { exporter, tracer } = tracing()
    const engine = createEngine({ builtins: false, tools: [ok, once, bad] })
    const instrumentation = await traceEngine(engine, { tracer })
    const before = Date.now()
    try {
      const result = await engine.run({
        id: 'mix',
        tasks: [
          { id: 'a', tool: 'test.ok' },
          { id: 'b', tool: 'test.flaky', retry: { maxAttempts: 2, initialDelay: '1ms' } },
          { id: 'c', tool: 'test.bad' },
          { id: 'd', tool: 'test.ok', dependsOn: ['c'] },
        ],
      })
      expect(result.status).toBe('partial')
    } finally {
      instrumentation.close()
      await engine.close()
    }
    const spans = exporter.getFinishedSpans()
    const byName = new Map(spans.map((span) => [span.name, span]))
    const run = byName.get('run mix') as ReadableSpan
    expect(run.attributes).toMatchObject({ 'taskweave.workflow.id': 'mix', 'taskweave.run.status': 'partial', 'taskweave.run.tasks': 4 })
    expect(ms(run.startTime)).toBeGreaterThanOrEqual(before - 50)
    expect(ms(run.endTime)).toBeGreaterThanOrEqual(ms(run.startTime))
    // Tasks that ran, under the run; the skipped one made no span.
    const tasks = spans.filter((span) => span.name.startsWith('task '))
    expect(tasks.map((span) => span.name).sort()).toEqual(['task a', 'task b', 'task c'])
    for (const task of tasks) expect(parentOf(task)).toBe(run.spanContext().spanId)
    const taskB = byName.get('task b') as ReadableSpan
    const attemptsB = spans.filter((span) => span.name.startsWith('attempt b#')).sort((x, y) => ms(x.startTime) - ms(y.startTime))
    expect(attemptsB.map((span) => [span.name, span.status.code, parentOf(span)])).toEqual([
      ['attempt b#1', 2, taskB.spanContext().spanId],
      ['attempt b#2', 0, taskB.spanContext().spanId],
    ])
    expect(attemptsB[0]?.status.message).toContain('first attempt fails')
    expect(taskB.attributes['taskweave.task.status']).toBe('succeeded')
    const taskC = byName.get('task c') as ReadableSpan
    expect([taskC.status.code, taskC.attributes['taskweave.task.status'], taskC.attributes['taskweave.tool']]).toEqual([2, 'failed', 'test.bad'])
    expect(ms(taskB.startTime)).toBeLessThanOrEqual(ms(attemptsB[0]?.startTime as [number, number]))
    expect(ms(taskB.endTime)).toBeGreaterThanOrEqual(ms(attemptsB[1]?.endTime as [number, number]))
  })

  it('ends a suspended run\'s span as suspended, and the resume makes spans only for what runs again', async () => {
    const store = new MemoryRunStore()
    const { tool: hold, release } = heldTool()
    const workflow = { id: 'resumable', tasks: [{ id: 'x', tool: 'test.ok' }, { id: 'y', tool: 'test.hold', dependsOn: ['x'] }] }
    const first = tracing()
    const engineA = createEngine({ builtins: false, tools: [ok, hold], store })
    const a = await traceEngine(engineA, { tracer: first.tracer })
    const handle = engineA.start(workflow)
    await new Promise<void>((resolve) => handle.on('task:started', (event) => void (event.taskId === 'y' && resolve())))
    await engineA.close()
    a.close()
    const runA = first.exporter.getFinishedSpans().find((span) => span.name === 'run resumable')
    expect(runA?.attributes['taskweave.run.suspended']).toBe(true)

    const second = tracing()
    const engineB = createEngine({ builtins: false, tools: [ok, hold], store })
    const b = await traceEngine(engineB, { tracer: second.tracer })
    try {
      release()
      const [resumed] = await engineB.resumeUnfinished()
      expect((await resumed?.result)?.status).toBe('succeeded')
    } finally {
      b.close()
      await engineB.close()
    }
    expect(second.exporter.getFinishedSpans().map((span) => span.name).sort()).toEqual(['attempt y#2', 'run resumable', 'task y'])
  })

  it('times spans by the engine\'s clock, a ManualClock\'s early hours included', async () => {
    const clock = new ManualClock()
    const hour = defineTool({ name: 'test.hour', input: z.object({}), run: async (_input, ctx) => {
      await sleep(clock, 3_600_000, ctx.signal)
      return 1
    } })
    const { exporter, tracer } = tracing()
    const engine = createEngine({ builtins: false, clock, tools: [hour] })
    const instrumentation = await traceEngine(engine, { tracer })
    await clock.runUntilSettled(engine.run({ id: 'slow', tasks: [{ id: 'h', tool: 'test.hour' }] }))
    instrumentation.close()
    await engine.close()
    for (const span of exporter.getFinishedSpans()) {
      expect(ms(span.startTime), span.name).toBe(0)
      expect(ms(span.endTime), span.name).toBe(3_600_000)
    }
    expect(exporter.getFinishedSpans()).toHaveLength(3)
  })

  it('ends an attempt a 429 bounced, with the error, where it bounced', async () => {
    const clock = new ManualClock()
    let calls = 0
    const llm = defineTool({ name: 'llm.fake', input: z.object({}), rateKey: 'prov:model', run: async (_input, ctx) => {
      await sleep(clock, 100, ctx.signal)
      if (calls++ === 0) throw new RateLimitedError('429', { retryAfterMs: 5_000 })
      return 'ok'
    } })
    const { exporter, tracer } = tracing()
    const engine = createEngine({ builtins: false, clock, tools: [llm], rates: { 'prov:model': { maxBounces: 2 } } })
    const instrumentation = await traceEngine(engine, { tracer })
    const result = await clock.runUntilSettled(engine.run({ id: 'bounce', tasks: [{ id: 'q', tool: 'llm.fake' }] }))
    instrumentation.close()
    await engine.close()
    expect(result.status).toBe('succeeded')
    const attempts = exporter.getFinishedSpans().filter((span) => span.name.startsWith('attempt q#')).sort((x, y) => ms(x.startTime) - ms(y.startTime))
    expect(attempts.map((span) => [ms(span.startTime), ms(span.endTime), span.status.code])).toEqual([
      [0, 100, 2],
      [5_100, 5_200, 0],
    ])
    expect(attempts[0]?.attributes['taskweave.rate.key']).toBe('prov:model')
  })

  it('puts forEach items under their owner\'s span, and marks spans cut short by close()', async () => {
    const list = defineTool({ name: 'test.list', input: z.object({}), run: () => [1, 2, 3] })
    const item = defineTool({ name: 'test.item', input: z.object({ n: z.number() }), run: ({ n }) => n })
    const { exporter, tracer } = tracing()
    const engine = createEngine({ builtins: false, tools: [list, item, ok] })
    const instrumentation = await traceEngine(engine, { tracer })
    await engine.run({ id: 'fan', tasks: [{ id: 'list', tool: 'test.list' }, { id: 'each', tool: 'test.item', forEach: '{{ tasks.list.output }}', input: { n: '{{ item }}' } }] })
    const spans = exporter.getFinishedSpans()
    const owner = spans.find((span) => span.name === 'task each') as ReadableSpan
    const items = spans.filter((span) => span.name.startsWith('task each['))
    expect(items).toHaveLength(3)
    for (const span of items) expect(parentOf(span)).toBe(owner.spanContext().spanId)
    expect(owner.attributes['taskweave.task.status']).toBe('succeeded')

    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const hold = defineTool({ name: 'test.hold', input: z.object({}), run: async () => {
      await held
      return 1
    } })
    engine.registry.register(hold)
    const handle = engine.start({ id: 'open', tasks: [{ id: 'h', tool: 'test.hold' }] })
    await new Promise<void>((resolve) => handle.on('task:started', () => resolve()))
    instrumentation.close()
    const cut = exporter.getFinishedSpans().filter((span) => span.attributes['taskweave.tracing.closed'] === true).map((span) => span.name).sort()
    expect(cut).toEqual(['attempt h#1', 'run open', 'task h'])
    release()
    await handle.result
    await engine.close()
  })
})

describe('traceEngine and the tools\' own spans', () => {
  it('runs each tool call in its attempt span\'s context: spans a tool makes (after an await too) are its children', async () => {
    const { exporter, tracer } = tracing()
    const manager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(manager)
    const inside = defineTool({
      name: 'test.inside',
      input: z.object({ wait: z.boolean() }),
      run: async (input) => {
        if (input.wait) await new Promise((resolve) => setImmediate(resolve))
        tracer.startSpan(`made by the tool (${input.wait ? 'async' : 'sync'})`).end()
        return 1
      },
    })
    const engine = createEngine({ builtins: false, tools: [inside] })
    const instrumentation = await traceEngine(engine, { tracer })
    try {
      const result = await engine.run({ id: 'own', tasks: [{ id: 'a', tool: 'test.inside', input: { wait: true } }, { id: 'b', tool: 'test.inside', input: { wait: false } }] })
      expect(result.status).toBe('succeeded')
      const spans = exporter.getFinishedSpans()
      const byName = new Map(spans.map((span) => [span.name, span]))
      expect(parentOf(byName.get('made by the tool (async)') as ReadableSpan)).toBe((byName.get('attempt a#1') as ReadableSpan).spanContext().spanId)
      expect(parentOf(byName.get('made by the tool (sync)') as ReadableSpan)).toBe((byName.get('attempt b#1') as ReadableSpan).spanContext().spanId)

      // Once tracing is closed, tool calls are not wrapped any more.
      instrumentation.close()
      exporter.reset()
      await engine.run({ id: 'after', tasks: [{ id: 'c', tool: 'test.inside', input: { wait: false } }] })
      expect(exporter.getFinishedSpans().map((span) => [span.name, parentOf(span)])).toEqual([['made by the tool (sync)', undefined]])
    } finally {
      instrumentation.close()
      await engine.close()
      context.disable()
      manager.disable()
    }
  })
})
