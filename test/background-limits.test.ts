/** Background work under a cap: places from the engine's keyed limiter, by priority, timeouts from the start. */
import { describe, expect, it } from 'vitest'
import { createEngine } from '../src/engine/engine.js'
import { ManualClock } from '../src/testing/manual-clock.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('engine.background with maxConcurrent', () => {
  it('runs at most maxConcurrent functions, starts waiting ones by priority, and shows its places in engine.stats()', async () => {
    const started: string[] = []
    const release = new Map<string, () => void>()
    await using engine = createEngine({ builtins: false, background: { maxConcurrent: 1 } })
    const submit = (name: string, priority: number): string =>
      engine.background.submit({
        conversationId: 'c',
        name,
        priority,
        run: () => {
          started.push(name)
          return new Promise<void>((resolve) => release.set(name, resolve))
        },
      })
    const ids = [submit('first', 0), submit('low', 1), submit('high', 9)]
    await turn()
    expect(started).toEqual(['first'])
    expect(engine.stats().keys).toEqual([expect.objectContaining({ key: expect.stringMatching(/^background:/), inUse: 1, waiting: 2 })])
    expect(engine.background.status(ids[1] as string)?.status).toBe('pending')
    for (const name of ['first', 'high', 'low']) {
      release.get(name)?.()
      await turn()
      await turn()
    }
    expect(started).toEqual(['first', 'high', 'low'])
    await Promise.all(ids.map((id) => engine.background.result(id)))
    expect(engine.stats().keys).toEqual([])
  })

  it('starts a waiting task’s timeout only when the task starts', async () => {
    const clock = new ManualClock()
    await using engine = createEngine({ builtins: false, clock, background: { maxConcurrent: 1 } })
    let releaseFirst: () => void = () => {}
    const first = engine.background.submit({ conversationId: 'c', name: 'first', run: () => new Promise<void>((resolve) => (releaseFirst = resolve)) })
    const second = engine.background.submit({ conversationId: 'c', name: 'second', timeout: '100ms', run: () => 'done' })
    await turn()
    clock.advance(500)
    await turn()
    expect(engine.background.status(second)?.status).toBe('pending')
    releaseFirst()
    expect((await engine.background.result(first))?.status).toBe('succeeded')
    expect((await engine.background.result(second))?.status).toBe('succeeded')
  })

  it('a task cancelled while it waits for a place leaves the limiter\'s queue at once (nothing of it is kept there)', async () => {
    await using engine = createEngine({ builtins: false, background: { maxConcurrent: 1 } })
    let release: (() => void) | undefined
    engine.background.submit({ conversationId: 'long', name: 'blocker', run: () => new Promise<void>((resolve) => (release = resolve)) })
    for (let i = 0; i < 100; i++) engine.background.submit({ conversationId: `c${i}`, name: 'n', run: () => i })
    await turn()
    expect(engine.stats().keys).toEqual([expect.objectContaining({ inUse: 1, waiting: 100 })])
    for (let i = 0; i < 100; i++) engine.background.endConversation(`c${i}`)
    expect(engine.stats().keys).toEqual([expect.objectContaining({ inUse: 1, waiting: 0 })])
    release?.()
    await turn()
    await turn()
    expect(engine.stats().keys).toEqual([])
  })

  it('refuses a priority that is not a finite number, naming it', async () => {
    await using engine = createEngine({ builtins: false, background: { maxConcurrent: 1 } })
    for (const priority of [Number.NaN, Infinity, 'high']) {
      expect(() => engine.background.submit({ conversationId: 'c', name: 'n', priority: priority as number, run: () => 1 })).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION', details: expect.objectContaining({ option: 'priority' }) }))
    }
  })
})
