/**
 * What `taskweave run` prints when stdout is not a terminal (CI logs, pipes, files) and `--verbose`
 * is not given: a compact log a person can read afterwards, instead of one line per event (a
 * 300-task run gave 1,264 lines). It shows the run starting and ending, every failure, retry and
 * cancellation, and the start of each task that has been running for `longMs`, once, so a log that
 * goes quiet still says what it is waiting for; such a task's end is shown too.
 *
 * Long runners are found by one timer per run rather than one per task: running tasks sit in a
 * map in the order they started, and each tick prints from its front those older than `longMs`.
 * @module
 */
import type { Clock } from '../core/clock.js'
import type { TaskweaveEvent } from '../observe/events.js'
import { describeEvent } from './progress.js'
import type { ProgressView } from './progress.js'

/** Options of {@link createCompactView}. */
export interface CompactViewOptions {
  /** A task's start is shown once it has been running this long (ms). @default 1000 */
  readonly longMs?: number
}

/** A compact log: run start and end, failures, retries, cancellations, and long-running tasks. */
export function createCompactView(write: (line: string) => void, clock: Clock, options: CompactViewOptions = {}): ProgressView {
  const longMs = options.longMs ?? 1000
  let origin: number | undefined
  // Running tasks not yet shown, oldest first: taskId → the start event and the clock time seen.
  const running = new Map<string, { event: TaskweaveEvent; seenAt: number }>()
  const shown = new Set<string>()
  let cancelTick: (() => void) | undefined
  let stopped = false
  const line = (event: TaskweaveEvent): void => {
    origin ??= event.at
    write(describeEvent(event, origin))
  }
  const tick = (): void => {
    cancelTick = undefined
    const now = clock.now()
    for (const [taskId, entry] of running) {
      if (now - entry.seenAt < longMs) break
      running.delete(taskId)
      shown.add(taskId)
      line(entry.event)
    }
    arm()
  }
  const arm = (): void => {
    if (stopped || cancelTick !== undefined || running.size === 0) return
    const oldest = running.values().next().value as { seenAt: number }
    cancelTick = clock.setTimer(Math.max(0, oldest.seenAt + longMs - clock.now()), tick)
  }
  return {
    handle(event) {
      switch (event.type) {
        case 'run:started':
        case 'run:finished':
        case 'run:cancelling':
        case 'run:budget-exhausted':
        case 'run:taken-over':
        case 'run:resume-failed':
        case 'run:parked':
        case 'engine:scaled':
        case 'store:unavailable':
        case 'store:available':
        case 'task:retrying':
        case 'task:failed':
          if ('taskId' in event) running.delete(event.taskId)
          line(event)
          return
        case 'task:started':
          running.delete(event.taskId)
          running.set(event.taskId, { event, seenAt: clock.now() })
          arm()
          return
        case 'task:succeeded':
        case 'task:cancelled':
          running.delete(event.taskId)
          if (shown.has(event.taskId)) line(event)
          return
        default:
          return
      }
    },
    stop() {
      stopped = true
      cancelTick?.()
      cancelTick = undefined
    },
  }
}
