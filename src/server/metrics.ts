/**
 * Prometheus metrics of an engine: runs and tasks counted from its events (by workflow, tool and
 * outcome), task and run durations, and at each scrape its slots, active runs, limiter keys and
 * rate keys. Labels stay bounded: an agent session's own key is counted under its agent
 * (`session:<agent>`), never one series per session; each label takes at most 200 values (workflow
 * ids come from requests), the rest counted as `other`. What a resume replays is not counted again.
 * @module
 */
import type { Engine } from '../engine/engine.js'
import type { TaskweaveEvent } from '../observe/events.js'

/** What {@link createEngineMetrics} gives: the text of a scrape, and how to stop counting. */
export interface EngineMetrics {
  /** `text/plain; version=0.0.4; charset=utf-8`, the exposition format. */
  readonly contentType: string
  /** The metrics now, in the Prometheus text format. */
  text(): Promise<string>
  /** Stops listening to the engine's events. */
  close(): void
}

/** Options of {@link createEngineMetrics}. */
export interface EngineMetricsOptions {
  /** Labels added to every series (`{ instance: 'api-1' }`). */
  readonly labels?: Readonly<Record<string, string>>
  /** Upper bounds of the duration histograms, in seconds. */
  readonly buckets?: readonly number[]
}

/** The tool label of a task that ended without starting (skipped, cancelled while waiting). */
const NOT_STARTED = 'not-started'
/** Distinct values one label takes before the rest are counted as `other`: workflow ids come from requests. */
const MAX_LABEL_VALUES = 200
const OTHER = 'other'

/** A label's values, the first {@link MAX_LABEL_VALUES} as they are and the rest as `other`. */
function boundedLabel(): (value: string) => string {
  const seen = new Set<string>()
  return (value) => {
    if (seen.has(value)) return value
    if (seen.size >= MAX_LABEL_VALUES) return OTHER
    seen.add(value)
    return value
  }
}
const DEFAULT_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 15, 60, 300]

/** The series a limiter key is counted under: sessions by agent, other keys as they are. */
function keySeries(key: string): string {
  if (!key.startsWith('session:')) return key
  const hash = key.indexOf('#')
  return hash > 0 ? key.slice(0, hash) : key
}

/**
 * Counts what `engine` does, for a Prometheus scrape (prom-client, loaded when this is called).
 * @example
 * const metrics = await createEngineMetrics(engine)
 * http.createServer(async (req, res) => res.setHeader('content-type', metrics.contentType).end(await metrics.text()))
 */
export async function createEngineMetrics(engine: Engine, options: EngineMetricsOptions = {}): Promise<EngineMetrics> {
  const { Counter, Gauge, Histogram, Registry } = await import('prom-client')
  const registry = new Registry()
  if (options.labels !== undefined) registry.setDefaultLabels({ ...options.labels })
  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)]
  const registers = [registry]
  const runsStarted = new Counter({ name: 'taskweave_runs_started_total', help: 'Runs started (resumed runs included).', labelNames: ['workflow'], registers })
  const runsFinished = new Counter({ name: 'taskweave_runs_finished_total', help: 'Runs ended, by status (suspended: stopped unfinished, to be resumed).', labelNames: ['workflow', 'status'], registers })
  const runSeconds = new Histogram({ name: 'taskweave_run_duration_seconds', help: 'Duration of runs that ended, by status.', labelNames: ['workflow', 'status'], buckets, registers })
  const attempts = new Counter({ name: 'taskweave_task_attempts_total', help: 'Attempts started.', labelNames: ['tool'], registers })
  const tasksEnded = new Counter({ name: 'taskweave_tasks_finished_total', help: 'Tasks that reached a final state, by status.', labelNames: ['tool', 'status'], registers })
  const retries = new Counter({ name: 'taskweave_task_retries_total', help: 'Attempts that failed and will be tried again.', labelNames: ['tool'], registers })
  const taskSeconds = new Histogram({ name: 'taskweave_task_duration_seconds', help: 'Duration of tasks that succeeded, from their first start.', labelNames: ['tool'], buckets, registers })
  const throttled = new Counter({ name: 'taskweave_task_throttled_total', help: 'Times a task was held back by a rate key, by reason.', labelNames: ['key', 'reason'], registers })
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read())
      },
    })
  }
  gauge('taskweave_engine_slots_used', 'Engine slots in use (attempts running).', () => engine.stats().slots.used)
  gauge('taskweave_engine_slots', 'Engine slots in all.', () => engine.stats().slots.capacity)
  gauge('taskweave_engine_active_runs', 'Runs of this engine not yet finished.', () => engine.stats().activeRuns)
  if (engine.stats().runner !== undefined) gauge('taskweave_runner_up', 'Whether the runner can hand attempts to workers (0 while their broker is down, blocks publishing or refuses what is published).', () => (engine.stats().runner?.ok === false ? 0 : 1))
  if (engine.store !== undefined) gauge('taskweave_store_up', 'Whether the run store takes writes (0 while it refuses them: durable runs start nothing new).', () => (engine.stats().store?.available === false ? 0 : 1))
  // One series per key, summed when several keys share a series (agent sessions), read at each scrape.
  const perKey = (name: string, help: string, read: () => Iterable<readonly [string, number]>): void => {
    new Gauge({
      name,
      help,
      labelNames: ['key'],
      registers,
      collect() {
        this.reset()
        const sums = new Map<string, number>()
        for (const [key, value] of read()) {
          const series = keyLabel(key)
          sums.set(series, (sums.get(series) ?? 0) + value)
        }
        for (const [key, value] of sums) this.set({ key }, value)
      },
    })
  }
  const limiterKeys = (pick: (key: { readonly inUse: number; readonly waiting: number }) => number) => () => engine.stats().keys.map((key) => [keySeries(key.key), pick(key)] as const)
  const rateKeys = (pick: (rate: { readonly inFlight: number; readonly waiting: number }) => number) => () => engine.stats().rates.map((rate) => [rate.key, pick(rate)] as const)
  perKey('taskweave_limiter_in_use', 'Permits held per limiter key (group:…, session:<agent>, agents:…).', limiterKeys((key) => key.inUse))
  perKey('taskweave_limiter_waiting', 'Tasks waiting for a permit per limiter key.', limiterKeys((key) => key.waiting))
  perKey('taskweave_rate_in_flight', 'Calls in flight per rate key.', rateKeys((rate) => rate.inFlight))
  perKey('taskweave_rate_waiting', 'Calls waiting per rate key.', rateKeys((rate) => rate.waiting))

  // The tool of each task in flight (the end events do not carry it), per run.
  const toolOf = new Map<string, Map<string, string>>()
  const workflowLabel = boundedLabel()
  const toolLabel = boundedLabel()
  const keyLabel = boundedLabel()
  const ended = (runId: string, taskId: string, status: string): void => {
    const tools = toolOf.get(runId)
    const tool = toolLabel(tools?.get(taskId) ?? NOT_STARTED)
    tools?.delete(taskId)
    tasksEnded.inc({ tool, status })
  }
  const toolsOf = (runId: string): Map<string, string> => {
    let tools = toolOf.get(runId)
    if (tools === undefined) toolOf.set(runId, (tools = new Map<string, string>()))
    return tools
  }
  const onEvent = (event: TaskweaveEvent): void => {
    // What a resume replays was counted by the process that ran it.
    if ('replayed' in event && event.replayed === true) return
    switch (event.type) {
      case 'run:started':
        runsStarted.inc({ workflow: workflowLabel(event.workflowId) })
        return
      case 'run:finished': {
        const status = event.suspended === true ? 'suspended' : event.status
        const workflow = workflowLabel(event.workflowId)
        runsFinished.inc({ workflow, status })
        runSeconds.observe({ workflow, status }, event.durationMs / 1000)
        toolOf.delete(event.runId)
        return
      }
      case 'task:started':
        attempts.inc({ tool: toolLabel(event.tool) })
        toolsOf(event.runId).set(event.taskId, event.tool)
        return
      case 'task:retrying':
        retries.inc({ tool: toolLabel(toolOf.get(event.runId)?.get(event.taskId) ?? NOT_STARTED) })
        return
      case 'task:succeeded':
        taskSeconds.observe({ tool: toolLabel(toolOf.get(event.runId)?.get(event.taskId) ?? NOT_STARTED) }, event.durationMs / 1000)
        ended(event.runId, event.taskId, 'succeeded')
        return
      case 'task:cancelled':
        // Cancelled by a suspension: it runs again when the run is resumed, and is counted then.
        if (event.suspended === true) toolOf.get(event.runId)?.delete(event.taskId)
        else ended(event.runId, event.taskId, 'cancelled')
        return
      case 'task:failed':
      case 'task:skipped':
        ended(event.runId, event.taskId, event.type.slice(5))
        return
      case 'task:throttled':
        throttled.inc({ key: keyLabel(event.key), reason: event.reason })
        return
      default:
        return
    }
  }
  const stop = engine.events.onAny(onEvent)
  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    close: stop,
  }
}
