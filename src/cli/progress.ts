/**
 * What `taskweave run` shows while a run goes on: on a TTY, a live table redrawn in place (each
 * task's state, attempts and time, counts, elapsed time, retries); elsewhere, one line per event.
 * @module
 */
import pc from 'picocolors'
import type { TaskweaveEvent } from '../observe/events.js'
import { EVENT_TASK_STATUS } from '../observe/events.js'
import type { TaskStatus } from '../engine/states.js'
import { clipToWidth, terminalSafe } from './terminal-text.js'

/** A sink for run events that renders them. */
export interface ProgressView {
  handle(event: TaskweaveEvent): void
  /** Stops redrawing and leaves the last frame on screen. */
  stop(): void
}

interface Row {
  status: TaskStatus
  attempts: number
  startedAt?: number
  finishedAt?: number
  note?: string | undefined
}

const ICON: Record<TaskStatus, string> = {
  pending: pc.dim('·'),
  ready: pc.dim('○'),
  running: pc.cyan('▶'),
  retrying: pc.yellow('↻'),
  succeeded: pc.green('✔'),
  failed: pc.red('✖'),
  skipped: pc.dim('⤼'),
  cancelled: pc.yellow('■'),
}

/** One line per event, for pipes, files and CI logs. */
export function createLineView(write: (line: string) => void): ProgressView {
  let origin: number | undefined
  return {
    handle(event) {
      origin ??= event.at
      write(describeEvent(event, origin))
    },
    stop() {},
  }
}

/**
 * Text of one event on one line, e.g. `task:failed fetch attempt 2: TW_TIMEOUT task "fetch" … timed
 * out`. Control characters from the run (error messages, progress notes) are shown as escapes.
 */
export function describeEvent(event: TaskweaveEvent, origin = 0): string {
  return terminalSafe(eventText(event, origin))
}

function eventText(event: TaskweaveEvent, origin: number): string {
  const t = `${((event.at - origin) / 1000).toFixed(3).padStart(8)}s`
  switch (event.type) {
    case 'run:started':
      return `${t} run:started ${event.workflowId} (${event.taskCount} tasks, run ${event.runId})`
    case 'run:finished':
      return `${t} run:finished ${event.status} in ${Math.round(event.durationMs)} ms`
    case 'run:cancelling':
      return `${t} run:cancelling ${event.reason}`
    case 'task:started':
      return `${t} task:started ${event.taskId} (${event.tool}, attempt ${event.attempt})`
    case 'task:succeeded':
      return `${t} task:succeeded ${event.taskId} in ${Math.round(event.durationMs)} ms`
    case 'task:failed':
      return `${t} task:failed ${event.taskId} attempt ${event.attempt}: ${event.error.code} ${event.error.message}`
    case 'task:retrying':
      return `${t} task:retrying ${event.taskId} after attempt ${event.attempt} in ${Math.round(event.delayMs)} ms: ${event.error.code} ${event.error.message}`
    case 'task:skipped':
    case 'task:cancelled':
      return `${t} ${event.type} ${event.taskId}: ${event.reason}`
    case 'task:throttled':
      return `${t} task:throttled ${event.taskId} on ${event.key} (${event.reason})${event.until !== undefined ? ` until ${new Date(event.until).toISOString()}` : ''}`
    case 'run:budget-exhausted':
      return `${t} run:budget-exhausted ${event.reason}`
    case 'run:resume-failed':
      return `${t} run:resume-failed ${event.error.code ?? ''} ${event.error.message}`
    case 'run:parked':
      return `${t} run:parked ${event.taskId} attempt ${event.attempt}: ${event.reason}`
    case 'run:taken-over':
      return `${t} run:taken-over from ${event.previousOwner} (its lease expired ${new Date(event.leaseExpiredAt).toISOString()})`
    case 'store:unavailable':
      return `${t} store:unavailable ${event.store}: ${event.error} (durable runs start nothing new until it takes writes again)`
    case 'store:available':
      return `${t} store:available ${event.store} again after ${Math.round(event.downMs)} ms`
    case 'engine:scaled':
      return `${t} engine:scaled ${event.from} → ${event.to} slots (${event.reason}; event-loop lag ${Math.round(event.eventLoopLagMs)} ms, RSS ${Math.round(event.rssBytes / 1048576)} MiB)`
    case 'task:progress':
      return `${t} task:progress ${event.taskId} ${event.progress.fraction !== undefined ? `${Math.round(event.progress.fraction * 100)}% ` : ''}${event.progress.message ?? ''}`
    case 'task:added':
      return `${t} task:added ${event.taskId} (${event.tool}${event.forEachOf ? `, item of ${event.forEachOf}` : ''}${event.addedBy ? `, added by ${event.addedBy}` : ''})`
    case 'task:ready':
      return `${t} task:ready ${event.taskId}`
  }
}

/** A live table on a TTY, redrawn at most every `intervalMs`. */
export function createLiveView(stream: NodeJS.WriteStream, taskIds: readonly string[], now: () => number, intervalMs = 100): ProgressView {
  const rows = new Map<string, Row>(taskIds.map((id) => [id, { status: 'pending', attempts: 0 }]))
  let title = ''
  let startedAt = now()
  let retries = 0
  let drawnLines = 0
  let dirty = true
  const draw = (): void => {
    if (!dirty) return
    dirty = false
    const lines = frame()
    let out = drawnLines > 0 ? `\x1b[${drawnLines}F` : ''
    // Each line fits the terminal: a wrapped one would take two rows and the redraw would miss one.
    const width = stream.columns > 0 ? stream.columns : Infinity
    for (const line of lines) out += `\x1b[2K${clipToWidth(line, width)}\n`
    if (drawnLines > lines.length) out += '\x1b[J'
    stream.write(out)
    drawnLines = lines.length
  }
  const frame = (): string[] => {
    const counts = new Map<TaskStatus, number>()
    for (const row of rows.values()) counts.set(row.status, (counts.get(row.status) ?? 0) + 1)
    const elapsed = ((now() - startedAt) / 1000).toFixed(1)
    const summary = (['succeeded', 'running', 'retrying', 'failed', 'skipped', 'cancelled', 'pending', 'ready'] as const)
      .filter((s) => (counts.get(s) ?? 0) > 0)
      .map((s) => `${ICON[s]} ${counts.get(s)} ${s}`)
      .join('  ')
    const header = `${pc.bold(terminalSafe(title))}  ${elapsed}s  ${summary}${retries > 0 ? `  ${pc.yellow(`${retries} retries`)}` : ''}`
    const budget = Math.max(5, (stream.rows || 30) - 3)
    const all = [...rows.entries()]
    // Running and failing tasks matter most when the table cannot show every task.
    const weight = (s: TaskStatus): number => (s === 'running' || s === 'retrying' ? 0 : s === 'failed' ? 1 : s === 'pending' || s === 'ready' ? 3 : 2)
    const shown = all.length <= budget ? all : [...all].sort((a, b) => weight(a[1].status) - weight(b[1].status)).slice(0, budget)
    const lines = [header]
    for (const [id, row] of shown) {
      const time = row.startedAt === undefined ? '' : `${(((row.finishedAt ?? now()) - row.startedAt) / 1000).toFixed(1)}s`
      const attempts = row.attempts > 1 ? pc.yellow(` attempt ${row.attempts}`) : ''
      lines.push(`  ${ICON[row.status]} ${terminalSafe(id).padEnd(24)} ${row.status.padEnd(9)} ${time.padStart(7)}${attempts}${row.note ? pc.dim(`  ${terminalSafe(row.note)}`) : ''}`)
    }
    if (shown.length < all.length) lines.push(pc.dim(`  … ${all.length - shown.length} more`))
    return lines
  }
  const timer = setInterval(draw, intervalMs)
  let stopped = false
  return {
    handle(event) {
      dirty = true
      if (event.type === 'run:started') {
        title = event.workflowId
        startedAt = event.at
        return
      }
      if (!('taskId' in event)) return
      let row = rows.get(event.taskId)
      if (row === undefined) rows.set(event.taskId, (row = { status: 'pending', attempts: 0 }))
      const status = EVENT_TASK_STATUS[event.type]
      if (status !== undefined) row.status = status
      switch (event.type) {
        case 'task:started':
          row.attempts = event.attempt
          row.startedAt ??= event.at
          row.note = undefined
          break
        case 'task:retrying':
          retries++
          row.note = `${event.error.code}; retry in ${Math.round(event.delayMs)} ms`
          break
        case 'task:succeeded':
          row.finishedAt = event.at
          // A forEach task has no start event of its own: its duration tells when it began.
          row.startedAt ??= event.at - event.durationMs
          row.note = undefined
          break
        case 'task:failed':
          row.finishedAt = event.at
          row.note = `${event.error.code}: ${event.error.message.split('\n')[0]}`
          break
        case 'task:skipped':
        case 'task:cancelled':
          row.note = event.reason
          break
        case 'task:progress':
          row.note = [event.progress.fraction !== undefined ? `${Math.round(event.progress.fraction * 100)}%` : '', event.progress.message ?? ''].join(' ').trim()
          break
        default:
          break
      }
    },
    stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      dirty = true
      draw()
    },
  }
}
