import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { createRemoteRunner, startWorker } from 'taskweave/distributed'
import { traceEngine, traceWorkerAttempts } from 'taskweave/otel'
import type { EngineTracing } from 'taskweave/otel'
import { createMemoryBroker, createMemoryTransport } from 'taskweave/queues'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function tracing() {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, tracer: provider.getTracer('test') }
}

describe('a trace across the attempt boundary (owner → worker)', () => {
  it('makes the worker\'s attempt spans children of the owner\'s, and the tool\'s own spans children of the worker\'s', async () => {
    const manager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(manager)
    cleanups.push(() => context.disable())
    const owner = tracing()
    const worker = tracing()
    const fetchPage = defineTool({
      name: 'web.fetch',
      input: z.object({ url: z.string() }),
      run: async ({ url }) => {
        await new Promise((resolve) => setImmediate(resolve))
        // What an instrumented client in the tool would make: a span under the active one.
        worker.tracer.startSpan('GET', {}, context.active()).end()
        if (url === 'bad') throw new Error('404')
        return url.length
      },
    })
    const broker = createMemoryBroker()
    const workerSide = await startWorker({ transport: createMemoryTransport({ broker }), tools: [fetchPage], builtins: false, worker: 'w1', heartbeatMs: 200, wrapAttempts: await traceWorkerAttempts({ tracer: worker.tracer }) })
    cleanups.push(() => workerSide.close({ graceMs: 100, closeTransport: true }))
    // The runner is made before the engine it serves, and the tracing after: the function reads it when an attempt leaves.
    const ownerTracing: { current?: EngineTracing } = {}
    const runner = createRemoteRunner({ transport: createMemoryTransport({ broker }), traceparent: (attempt) => ownerTracing.current?.traceparent(attempt) })
    await runner.listen()
    const engine = createEngine({ builtins: false, tools: [fetchPage], runner })
    cleanups.push(() => engine.close())
    ownerTracing.current = await traceEngine(engine, { tracer: owner.tracer })
    cleanups.push(() => ownerTracing.current?.close())

    const result = await engine.run({ id: 'crawl', tasks: [{ id: 'home', tool: 'web.fetch', input: { url: 'https://example.test/' } }, { id: 'gone', tool: 'web.fetch', input: { url: 'bad' } }] })
    expect(result.tasks['home']?.status).toBe('succeeded')
    expect(result.tasks['gone']?.status).toBe('failed')

    const ownerSpans = owner.exporter.getFinishedSpans()
    const workerSpans = worker.exporter.getFinishedSpans()
    const named = (spans: ReadableSpan[], name: string): ReadableSpan => spans.find((span) => span.name === name) as ReadableSpan
    for (const [taskId, failed] of [['home', false], ['gone', true]] as const) {
      const ownerAttempt = named(ownerSpans, `attempt ${taskId}#1`)
      const workerAttempt = named(workerSpans, `attempt ${taskId}#1 (worker)`)
      expect(workerAttempt.spanContext().traceId).toBe(ownerAttempt.spanContext().traceId)
      expect(workerAttempt.parentSpanContext?.spanId).toBe(ownerAttempt.spanContext().spanId)
      expect(workerAttempt.attributes).toMatchObject({ 'taskweave.task.id': taskId, 'taskweave.attempt': 1, 'taskweave.tool': 'web.fetch' })
      expect(workerAttempt.status.code).toBe(failed ? 2 : 0)
      const get = workerSpans.find((span) => span.name === 'GET' && span.parentSpanContext?.spanId === workerAttempt.spanContext().spanId)
      expect(get?.spanContext().traceId).toBe(ownerAttempt.spanContext().traceId)
    }
    // The owner's attempt span was still open when the attempt left (its traceparent is that span's).
    expect(trace.getActiveSpan()).toBeUndefined()
  })

  it('a worker span is a root span when the owner sends no trace context, and a throwing traceparent function loses only the link', async () => {
    const worker = tracing()
    const echo = defineTool({ name: 't.echo', input: z.object({}), run: () => 1 })
    const broker = createMemoryBroker()
    const workerSide = await startWorker({ transport: createMemoryTransport({ broker }), tools: [echo], builtins: false, worker: 'w2', heartbeatMs: 200, wrapAttempts: await traceWorkerAttempts({ tracer: worker.tracer }) })
    cleanups.push(() => workerSide.close({ graceMs: 100, closeTransport: true }))
    const runner = createRemoteRunner({
      transport: createMemoryTransport({ broker }),
      traceparent: () => {
        throw new Error('tracing is broken')
      },
    })
    await runner.listen()
    const engine = createEngine({ builtins: false, tools: [echo], runner })
    cleanups.push(() => engine.close())
    expect((await engine.run({ id: 'plain', tasks: [{ id: 'x', tool: 't.echo' }] })).status).toBe('succeeded')
    const span = worker.exporter.getFinishedSpans().find((s) => s.name === 'attempt x#1 (worker)')
    expect(span).toBeDefined()
    expect(span?.parentSpanContext).toBeUndefined()
  })
})
