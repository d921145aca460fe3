/**
 * OpenTelemetry spans of an engine's runs, built from its events: a span per run, under it a span
 * per task (first start to final state), under that a span per attempt, with the ids, the tool,
 * the attempt number, and errors recorded on the spans they ended. Times are the events' own, so
 * spans are as long as the work was, whatever the exporter does later. What a resume replays
 * happened in an earlier process and makes no span; a run suspended here ends its span with
 * `taskweave.run.suspended`, and its resume opens a new one.
 * @module
 */
import type { Span, Tracer } from '@opentelemetry/api'
import type { Engine } from '../engine/engine.js'
import type { TaskweaveEvent } from '../observe/events.js'
import { loadOpenTelemetry } from './load-api.js'

/** Options of {@link traceEngine}. */
export interface TraceEngineOptions {
  /** The tracer spans are made with. @default `trace.getTracer('taskweave')` of the global provider */
  readonly tracer?: Tracer
}

/** A running instrumentation: {@link close} stops it (spans still open are ended). */
export interface EngineTracing {
  /**
   * The W3C trace context (`traceparent`) of an attempt's span while it runs, for a remote runner
   * to send with the attempt (`createRemoteRunner({ traceparent: tracing.traceparent })`), so the
   * worker's spans of it join this trace; undefined for an attempt without a span.
   */
  readonly traceparent: (attempt: { readonly runId: string; readonly taskId: string }) => string | undefined
  close(): void
}

/** A span's context as a W3C `traceparent` header value. */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext()
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`
}

interface RunSpans {
  readonly span: Span
  readonly tasks: Map<string, { readonly span: Span; attempt?: Span | undefined }>
  /** Tasks whose span has ended: a success the store could not keep is withdrawn by a later failure. */
  readonly ended: Set<string>
}

/**
 * Epoch milliseconds as OpenTelemetry's high-resolution time. A plain number small enough to be a
 * `performance.now()` reading (a ManualClock's early wall times) would be read as one by the SDK.
 */
function hrTime(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000)
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)]
}

const ERROR = 2 // SpanStatusCode.ERROR, without loading the API's values for it

/**
 * Makes spans of `engine`'s runs (loads `@opentelemetry/api`, an optional peer dependency). Runs
 * that start before the returned promise resolves are not traced: await it first.
 * @example
 * const tracing = await traceEngine(engine) // with a tracer provider registered (the OpenTelemetry SDK)
 */
export async function traceEngine(engine: Engine, options: TraceEngineOptions = {}): Promise<EngineTracing> {
  const { context, trace } = await loadOpenTelemetry('traceEngine')
  const tracer = options.tracer ?? trace.getTracer('taskweave')
  const runs = new Map<string, RunSpans>()
  // Events carry the engine's clock and are delivered as they happen: the wall time of one is its
  // clock time plus the clock's offset now, read each time (wall and monotonic clocks drift apart
  // over a long run, and a ManualClock's wall time can be set).
  // The offset is kept while it moves by less than 5 ms: wall clocks tick in whole milliseconds,
  // and a span and its child must not trade places by that jitter.
  const readOffset = (): number => engine.clock.wallNow() - engine.clock.now()
  let offset = readOffset()
  const wall = (at: number): [number, number] => {
    const fresh = readOffset()
    if (Math.abs(fresh - offset) > 5) offset = fresh
    return hrTime(at + offset)
  }

  const endAttempt = (run: RunSpans, taskId: string, at: number, error?: { readonly code: string; readonly message: string }): void => {
    const task = run.tasks.get(taskId)
    if (task?.attempt === undefined) return
    if (error !== undefined) {
      task.attempt.setStatus({ code: ERROR, message: `${error.code}: ${error.message}` })
      task.attempt.setAttribute('taskweave.error.code', error.code)
    }
    task.attempt.end(wall(at))
    task.attempt = undefined
  }
  const endTask = (run: RunSpans, taskId: string, at: number, status: string, error?: { readonly code: string; readonly message: string }): void => {
    endAttempt(run, taskId, at, error)
    const task = run.tasks.get(taskId)
    if (task === undefined) return
    task.span.setAttribute('taskweave.task.status', status)
    if (error !== undefined) task.span.setStatus({ code: ERROR, message: `${error.code}: ${error.message}` })
    task.span.end(wall(at))
    run.tasks.delete(taskId)
    run.ended.add(taskId)
  }
  const taskSpan = (run: RunSpans, runId: string, taskId: string, at: number, tool: string, parent?: Span): Span =>
    tracer.startSpan(
      `task ${taskId}`,
      { startTime: wall(at), attributes: { 'taskweave.run.id': runId, 'taskweave.task.id': taskId, 'taskweave.tool': tool } },
      trace.setSpan(context.active(), parent ?? run.span),
    )

  const onEvent = (event: TaskweaveEvent): void => {
    if (event.runId === undefined || ('replayed' in event && event.replayed === true)) return
    if (event.type === 'run:started') {
      const span = tracer.startSpan(`run ${event.workflowId}`, { startTime: wall(event.at), attributes: { 'taskweave.run.id': event.runId, 'taskweave.workflow.id': event.workflowId, 'taskweave.run.tasks': event.taskCount } })
      runs.set(event.runId, { span, tasks: new Map(), ended: new Set() })
      return
    }
    const run = runs.get(event.runId)
    if (run === undefined) return
    switch (event.type) {
      case 'task:added': {
        // A forEach item: under its owner's span, which opens with the first item (the owner
        // itself never starts an attempt) and ends with the owner's own final state.
        if (event.forEachOf === undefined) return
        let owner = run.tasks.get(event.forEachOf)
        if (owner === undefined) run.tasks.set(event.forEachOf, (owner = { span: taskSpan(run, event.runId, event.forEachOf, event.at, event.tool) }))
        run.tasks.set(event.taskId, { span: taskSpan(run, event.runId, event.taskId, event.at, event.tool, owner.span) })
        return
      }
      case 'task:started': {
        let task = run.tasks.get(event.taskId)
        if (task === undefined) run.tasks.set(event.taskId, (task = { span: taskSpan(run, event.runId, event.taskId, event.at, event.tool) }))
        endAttempt(run, event.taskId, event.at)
        task.attempt = tracer.startSpan(`attempt ${event.taskId}#${event.attempt}`, { startTime: wall(event.at), attributes: { 'taskweave.task.id': event.taskId, 'taskweave.attempt': event.attempt, 'taskweave.tool': event.tool } }, trace.setSpan(context.active(), task.span))
        return
      }
      case 'task:throttled':
        // A provider's 429 bounced the attempt: it ended, failed, and another follows after the pause.
        if (event.reason !== 'rate-limited') return
        run.tasks.get(event.taskId)?.attempt?.setAttribute('taskweave.rate.key', event.key)
        endAttempt(run, event.taskId, event.at, { code: 'TW_RATE_LIMITED', message: `rate-limited on ${event.key}` })
        return
      case 'task:retrying':
        run.tasks.get(event.taskId)?.attempt?.setAttribute('taskweave.retry.delay_ms', event.delayMs)
        endAttempt(run, event.taskId, event.at, event.error)
        return
      case 'task:succeeded':
        endTask(run, event.taskId, event.at, 'succeeded')
        return
      case 'task:failed':
        if (run.ended.has(event.taskId) && !run.tasks.has(event.taskId)) {
          // A success withdrawn (the store could not keep it): the task failed after all.
          const span = taskSpan(run, event.runId, event.taskId, event.at, 'unknown')
          span.setAttribute('taskweave.task.withdrawn_success', true)
          run.tasks.set(event.taskId, { span })
        }
        endTask(run, event.taskId, event.at, 'failed', event.error)
        return
      case 'task:cancelled':
        endTask(run, event.taskId, event.at, 'cancelled')
        return
      case 'run:finished': {
        for (const taskId of [...run.tasks.keys()]) endTask(run, taskId, event.at, 'cancelled')
        run.span.setAttribute('taskweave.run.status', event.status)
        if (event.suspended === true) run.span.setAttribute('taskweave.run.suspended', true)
        else if (event.status === 'failed') run.span.setStatus({ code: ERROR, message: 'the run failed' })
        run.span.end(wall(event.at))
        runs.delete(event.runId)
        return
      }
      default:
        return
    }
  }
  const stop = engine.events.onAny(onEvent)
  // A tool's own spans (and those of the libraries it calls) are children of its attempt's: its
  // call runs in the attempt span's context. `task:started` came just before, so the span is there.
  const unwrap = engine.wrapAttempts((attempt, run) => {
    const span = runs.get(attempt.runId)?.tasks.get(attempt.taskId)?.attempt
    return span === undefined ? run() : context.with(trace.setSpan(context.active(), span), run)
  })
  return {
    traceparent: (attempt) => {
      const span = runs.get(attempt.runId)?.tasks.get(attempt.taskId)?.attempt
      return span === undefined ? undefined : traceparentOf(span)
    },
    close() {
      stop()
      unwrap()
      // Spans still open end now, marked as cut short by the end of tracing (not by the run).
      const now = wall(engine.clock.now())
      const cut = (span: Span): void => {
        span.setAttribute('taskweave.tracing.closed', true)
        span.end(now)
      }
      for (const run of runs.values()) {
        for (const task of run.tasks.values()) {
          if (task.attempt !== undefined) cut(task.attempt)
          cut(task.span)
        }
        cut(run.span)
      }
      runs.clear()
    },
  }
}
