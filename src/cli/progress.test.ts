import { describe, expect, it } from 'vitest'
import { createLiveView, describeEvent } from './progress.js'
import type { TaskweaveEvent } from '../observe/events.js'

const error = { name: 'TaskweaveError', code: 'ECONNRESET', message: 'reset', retryable: true }

describe('progress views', () => {
  it('describes each event on one line, relative to the run start', () => {
    expect(describeEvent({ type: 'task:retrying', runId: 'r', at: 1500, taskId: 'fetch', attempt: 1, delayMs: 200, error }, 1000)).toBe('   0.500s task:retrying fetch after attempt 1 in 200 ms: ECONNRESET reset')
    expect(describeEvent({ type: 'task:skipped', runId: 'r', at: 1000, taskId: 'b', reason: 'upstream task "a" failed' }, 1000)).toBe('   0.000s task:skipped b: upstream task "a" failed')
  })

  it('redraws a live table in place with states, counts and retries', () => {
    let written = ''
    const stream = { write: (text: string) => ((written += text), true), rows: 20 } as unknown as NodeJS.WriteStream
    let now = 0
    const view = createLiveView(stream, ['fetch', 'parse'], () => now, 60_000)
    const events: TaskweaveEvent[] = [
      { type: 'run:started', runId: 'r', at: 0, workflowId: 'demo', taskCount: 2 },
      { type: 'task:started', runId: 'r', at: 0, taskId: 'fetch', attempt: 1, tool: 'http.fetch' },
      { type: 'task:retrying', runId: 'r', at: 100, taskId: 'fetch', attempt: 1, delayMs: 200, error },
      { type: 'task:started', runId: 'r', at: 300, taskId: 'fetch', attempt: 2, tool: 'http.fetch' },
      { type: 'task:succeeded', runId: 'r', at: 800, taskId: 'fetch', attempt: 2, durationMs: 800 },
    ]
    for (const event of events) view.handle(event)
    now = 1200
    view.stop()
    const drawn = written.length
    view.stop() // the command stops the view once after the run and once on the way out
    expect(written.length).toBe(drawn)
    // eslint-disable-next-line no-control-regex -- stripping the ANSI codes the view wrote
    const frame = written.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    expect(frame).toContain('demo  1.2s')
    expect(frame).toContain('1 succeeded')
    expect(frame).toContain('1 pending')
    expect(frame).toContain('1 retries')
    expect(frame).toMatch(/fetch\s+succeeded\s+0\.8s attempt 2/)
  })
})

describe('the live table on a narrow terminal', () => {
  it('cuts every line to the terminal width, so a redraw moves up over exactly the lines it drew', () => {
    let written = ''
    const stream = { write: (text: string) => ((written += text), true), rows: 20, columns: 30 } as unknown as NodeJS.WriteStream
    const view = createLiveView(stream, ['a-task-with-a-rather-long-name'], () => 0, 60_000)
    view.handle({ type: 'run:started', runId: 'r', at: 0, workflowId: 'a-workflow-whose-name-is-long-too', taskCount: 1 })
    view.handle({ type: 'task:progress', runId: 'r', at: 0, taskId: 'a-task-with-a-rather-long-name', attempt: 1, progress: { message: 'a long note about what the task is doing now' } })
    view.stop()
    // eslint-disable-next-line no-control-regex -- the view's own codes
    const lines = written.split('\n').map((line) => line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')).filter((line) => line !== '')
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(30)
    expect(lines.some((line) => line.endsWith('…'))).toBe(true)
  })
})

describe('control characters in event text', () => {
  const evil = '\x1b]0;pwned\x07\x1b[2J'
  const failed: TaskweaveEvent = { type: 'task:failed', runId: 'r', at: 0, taskId: 'fetch', attempt: 1, error: { ...error, message: `boom${evil}\nsecond line` } }

  it('are shown as escapes on the event line, which stays one line', () => {
    expect(describeEvent(failed)).toBe('   0.000s task:failed fetch attempt 1: ECONNRESET boom\\x1b]0;pwned\\x07\\x1b[2J\\nsecond line')
  })

  it('are shown as escapes in the live table', () => {
    let written = ''
    const stream = { write: (text: string) => ((written += text), true), rows: 20 } as unknown as NodeJS.WriteStream
    const view = createLiveView(stream, ['fetch'], () => 0, 60_000)
    view.handle({ type: 'run:started', runId: 'r', at: 0, workflowId: `demo${evil}`, taskCount: 1 })
    view.handle({ type: 'task:progress', runId: 'r', at: 0, taskId: 'fetch', attempt: 1, progress: { message: `half${evil}` } })
    view.stop()
    expect(written).toContain('half\\x1b]0;pwned\\x07\\x1b[2J')
    expect(written).toContain('demo\\x1b]0;pwned')
    expect(written).not.toContain('\x1b]0;')
    expect(written).not.toContain('\x07')
  })
})
