import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import type { TaskweaveEvent } from '../observe/events.js'
import { createCompactView } from './compact-view.js'

const error = { name: 'Error', code: 'ECONNRESET', message: 'reset', retryable: true }

describe('the compact log (not a terminal, no --verbose)', () => {
  it('shows the run, failures, retries and long-running tasks, not every event', () => {
    const clock = new ManualClock()
    const lines: string[] = []
    const view = createCompactView((l) => lines.push(l), clock, { longMs: 1000 })
    const at = (): number => clock.now()
    const emit = (event: TaskweaveEvent): void => view.handle(event)
    emit({ type: 'run:started', runId: 'r', at: at(), workflowId: 'demo', taskCount: 300 })
    for (let i = 0; i < 300; i++) {
      emit({ type: 'task:ready', runId: 'r', at: at(), taskId: `t${i}` })
      emit({ type: 'task:started', runId: 'r', at: at(), taskId: `t${i}`, attempt: 1, tool: 'x' })
      if (i !== 7) emit({ type: 'task:succeeded', runId: 'r', at: at(), taskId: `t${i}`, attempt: 1, durationMs: 1 })
    }
    emit({ type: 'task:retrying', runId: 'r', at: at(), taskId: 'flaky', attempt: 1, delayMs: 100, error })
    clock.advance(999)
    expect(lines.some((l) => l.includes('t7'))).toBe(false)
    clock.advance(1)
    expect(lines.filter((l) => l.includes('task:started t7'))).toHaveLength(1)
    clock.advance(5000)
    emit({ type: 'task:failed', runId: 'r', at: at(), taskId: 'flaky', attempt: 2, error })
    emit({ type: 'task:succeeded', runId: 'r', at: at(), taskId: 't7', attempt: 1, durationMs: 6000 })
    emit({ type: 'run:finished', runId: 'r', at: at(), workflowId: 'demo', status: 'partial', durationMs: 6000 })
    view.stop()
    expect(lines.map((l) => l.trim().split(' ').slice(1, 3).join(' '))).toEqual([
      'run:started demo',
      'task:retrying flaky',
      'task:started t7',
      'task:failed flaky',
      'task:succeeded t7',
      'run:finished partial',
    ])
  })
})
