import { describe, expect, it } from 'vitest'
import { CompletionStream } from './completion-stream.js'
import type { BackgroundOutcome } from './types.js'

const outcome = (taskId: string): BackgroundOutcome =>
  ({ taskId, conversationId: 'c', name: 'n', kind: 'function', status: 'succeeded', submittedAt: 0, finishedAt: 0, durationMs: 0 })

describe('CompletionStream', () => {
  it('buffers outcomes, delivers them after end, then finishes, unregistering once', async () => {
    let ends = 0
    const stream = new CompletionStream(() => ends++)
    stream.push(outcome('a'))
    const waiting = stream.next()
    stream.push(outcome('b'))
    stream.end()
    stream.end()
    stream.push(outcome('ignored'))
    expect((await waiting).value?.taskId).toBe('a')
    expect((await stream.next()).value?.taskId).toBe('b')
    expect((await stream.next()).done).toBe(true)
    expect(ends).toBe(1)
  })

  it('ends when its signal aborts, and on break', async () => {
    const controller = new AbortController()
    const stream = new CompletionStream(() => {}, controller.signal)
    const waiting = stream.next()
    controller.abort()
    expect((await waiting).done).toBe(true)
    let ended = false
    const other = new CompletionStream(() => (ended = true))
    other.push(outcome('a'))
    other.push(outcome('b'))
    for await (const o of other) {
      expect(o.taskId).toBe('a')
      break
    }
    expect(ended).toBe(true)
    expect((await other.next()).done).toBe(true)
  })

  it('serves several next() calls waiting at once in call order, and ends them all', async () => {
    const stream = new CompletionStream(() => {})
    const first = stream.next()
    const second = stream.next()
    const third = stream.next()
    stream.push(outcome('a'))
    stream.push(outcome('b'))
    expect((await first).value?.taskId).toBe('a')
    expect((await second).value?.taskId).toBe('b')
    stream.end()
    expect((await third).done).toBe(true)
  })
})
