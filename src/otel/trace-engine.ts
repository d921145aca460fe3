/**
 * OpenTelemetry spans of an engine's runs, built from its events: a span per run, under it a span
 * per task (first start to final state), under that a span per attempt, with the ids, the tool,
 * the attempt number, and errors recorded on the spans they ended. Times are the events' own, so
 * spans are as long as the work was, whatever the exporter does later. What a resume replays
 * happened in an earlier process and makes no span; a run suspended here ends its span with
 * `taskweave.run.suspended`, and its resume opens a new one.
 * @module
 */
import type * as OpenTelemetry from '@opentelemetry/api'
import type { Span, Tracer } from '@opentelemetry/api'
import type { Engine } from '../engine/engine.js'
import type { TaskweaveEvent } from '../observe/events.js'

/** Options of {@link traceEngine}. */
export interface TraceEngineOptions {
  /** The tracer spans are made with. @default `trace.getTracer('taskweave')` of the global provider */
  readonly tracer?: Tracer
}

/** A running instrumentation: {@link close} stops it (spans still open are ended). */
export interface EngineTracing {
  close(): void
}

interface RunSpans {
  readonly span: Span
  /** Wall time minus clock time: events carry the engine's clock. */
  readonly offset: number
  readonly tasks: Map<string, { readonly span: Span; attempt?: Span | undefined }>
}

const ERROR = 2 // SpanStatusCode.ERROR, without loading the API's values for it

/**
 * Makes spans of `engine`'s runs (loads `@opentelemetry/api`, an optional peer dependency).
 * @example
 * const tracing = await traceEngine(engine) // with a tracer provider registered (the OpenTelemetry SDK)
 */
export async function traceEngine(engine: Engine, options: TraceEngineOptions = {}): Promise<EngineTracing> {
  let api: typeof OpenTelemetry
  try {
    api = await import('@opentelemetry/api')
  } catch (error) {
    throw new Error('traceEngine needs @opentelemetry/api: npm install @opentelemetry/api (and an OpenTelemetry SDK to export the spans)', { cause: error })
  }
  const { context, trace } = api
  const tracer = options.tracer ?? trace.getTracer('taskweave')
  const runs = new Map<string, RunSpans>()
  const wall = (run: RunSpans, at: number): number => at + run.offset

  const endAttempt = (run: RunSpans, taskId: string, at: number, error?: { readonly code: string; readonly message: string }): void => {
    const task = run.tasks.get(taskId)
    if (task?.attempt === undefined) return
    if (error !== undefined) {
      task.attempt.setStatus({ code: ERROR, message: `${error.code}: ${error.message}` })
      task.attempt.setAttribute('taskweave.error.code', error.code)
    }
    task.attempt.end(wall(run, at))
    task.attempt = undefined
  }
  const endTask = (run: RunSpans, taskId: string, at: number, status: string, error?: { readonly code: string; readonly message: string }): void => {
    endAttempt(run, taskId, at, error)
    const task = run.tasks.get(taskId)
    if (task === undefined) return
    task.span.setAttribute('taskweave.task.status', status)
    if (error !== undefined) task.span.setStatus({ code: ERROR, message: `${error.code}: ${error.message}` })
    task.span.end(wall(run, at))
    run.tasks.delete(taskId)
  }

  const onEvent = (event: TaskweaveEvent): void => {
    if (event.runId === undefined || ('replayed' in event && event.replayed === true)) return
    if (event.type === 'run:started') {
      const offset = engine.clock.wallNow() - engine.clock.now()
      const span = tracer.startSpan(`run ${event.workflowId}`, { startTime: event.at + offset, attributes: { 'taskweave.run.id': event.runId, 'taskweave.workflow.id': event.workflowId, 'taskweave.run.tasks': event.taskCount } })
      runs.set(event.runId, { span, offset, tasks: new Map() })
      return
    }
    const run = runs.get(event.runId)
    if (run === undefined) return
    switch (event.type) {
      case 'task:started': {
        let task = run.tasks.get(event.taskId)
        const parent = trace.setSpan(context.active(), run.span)
        if (task === undefined) {
          task = { span: tracer.startSpan(`task ${event.taskId}`, { startTime: wall(run, event.at), attributes: { 'taskweave.run.id': event.runId, 'taskweave.task.id': event.taskId, 'taskweave.tool': event.tool } }, parent) }
          run.tasks.set(event.taskId, task)
        }
        endAttempt(run, event.taskId, event.at)
        task.attempt = tracer.startSpan(`attempt ${event.taskId}#${event.attempt}`, { startTime: wall(run, event.at), attributes: { 'taskweave.task.id': event.taskId, 'taskweave.attempt': event.attempt, 'taskweave.tool': event.tool } }, trace.setSpan(context.active(), task.span))
        return
      }
      case 'task:retrying':
        run.tasks.get(event.taskId)?.attempt?.setAttribute('taskweave.retry.delay_ms', event.delayMs)
        endAttempt(run, event.taskId, event.at, event.error)
        return
      case 'task:succeeded':
        endTask(run, event.taskId, event.at, 'succeeded')
        return
      case 'task:failed':
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
        run.span.end(wall(run, event.at))
        runs.delete(event.runId)
        return
      }
      default:
        return
    }
  }
  const stop = engine.events.onAny(onEvent)
  return {
    close() {
      stop()
      for (const run of runs.values()) {
        for (const task of run.tasks.values()) {
          task.attempt?.end()
          task.span.end()
        }
        run.span.end()
      }
      runs.clear()
    },
  }
}
