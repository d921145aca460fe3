/**
 * OpenTelemetry spans of the attempts a worker runs, children of the owner's attempt spans: the
 * owner sends each attempt's `traceparent` (see `EngineTracing.traceparent`), and the tool's call
 * runs inside the worker's span, so what the tool does (an instrumented HTTP client, an LLM SDK)
 * is traced under it too.
 * @module
 */
import type { Context, Tracer } from '@opentelemetry/api'
import type { AttemptRequest } from '../core/attempt.js'
import type { AttemptWrapper } from '../engine/local-runner.js'
import { loadOpenTelemetry } from './load-api.js'

/** Options of {@link traceWorkerAttempts}. */
export interface TraceWorkerOptions {
  /** The tracer spans are made with. @default `trace.getTracer('taskweave')` of the global provider */
  readonly tracer?: Tracer
}

const ERROR = 2 // SpanStatusCode.ERROR
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The wrapper that makes a span of each attempt a worker runs (loads `@opentelemetry/api`): give
 * it to `startWorker({ wrapAttempts })`. A span is a child of the owner's attempt span when the
 * attempt carries its `traceparent`, a root span otherwise; it ends when the tool's call settles,
 * with the error on it when the call failed.
 */
export async function traceWorkerAttempts(options: TraceWorkerOptions = {}): Promise<AttemptWrapper> {
  const { context, trace } = await loadOpenTelemetry('traceWorkerAttempts')
  const tracer = options.tracer ?? trace.getTracer('taskweave')
  const parentOf = (attempt: AttemptRequest): Context => {
    const parsed = typeof attempt.traceparent === 'string' ? TRACEPARENT.exec(attempt.traceparent) : null
    if (parsed === null || /^0+$/.test(parsed[1] as string) || /^0+$/.test(parsed[2] as string)) return context.active()
    return trace.setSpanContext(context.active(), { traceId: parsed[1] as string, spanId: parsed[2] as string, traceFlags: parseInt(parsed[3] as string, 16), isRemote: true })
  }
  return (attempt, run) => {
    const span = tracer.startSpan(
      `attempt ${attempt.taskId}#${attempt.attempt} (worker)`,
      { attributes: { 'taskweave.run.id': attempt.runId, 'taskweave.task.id': attempt.taskId, 'taskweave.attempt': attempt.attempt, 'taskweave.tool': attempt.tool } },
      parentOf(attempt),
    )
    const failed = (error: unknown): void => {
      span.setStatus({ code: ERROR, message: error instanceof Error ? error.message : String(error) })
      span.end()
    }
    let result: unknown
    try {
      result = context.with(trace.setSpan(context.active(), span), run)
    } catch (error) {
      failed(error)
      throw error
    }
    // Ended when the call settles; the call's own promise is returned untouched.
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') (result as PromiseLike<unknown>).then(() => span.end(), failed)
    else span.end()
    return result
  }
}
