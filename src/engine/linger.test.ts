import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from './engine.js'
import { LINGER_MS } from './run.js'
import { ManualClock } from '../testing/manual-clock.js'
import { defineTool } from '../core/tool.js'
import type { Logger } from '../core/logger.js'

/** A tool that ignores its abort signal: it returns only when the test lets it. */
function stubbornSetup(options: { readonly listenToSignal?: boolean } = {}) {
  const clock = new ManualClock()
  const started: string[] = []
  const finish = new Map<string, () => void>()
  const stubborn = defineTool({
    name: 'stubborn',
    input: z.object({ name: z.string() }),
    run: (input, ctx) =>
      new Promise<string>((resolve, reject) => {
        started.push(input.name)
        finish.set(input.name, () => resolve(input.name))
        if (options.listenToSignal === true) ctx.signal.addEventListener('abort', () => reject(new Error('stopped')))
      }),
  })
  const warnings: string[] = []
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (message) => void warnings.push(message), error: () => undefined, child: () => logger }
  const engine = createEngine({ clock, logger, tools: [stubborn], builtins: false })
  const flush = async (): Promise<void> => {
    for (let k = 0; k < 20; k++) await Promise.resolve()
  }
  return { clock, engine, started, finish, warnings, flush }
}

const task = (id: string, extra: Record<string, unknown> = {}) => ({ id, tool: 'stubborn', input: { name: id }, group: 'llm', ...extra })

describe('a group permit outlives an attempt the engine gave up on while its tool still runs', () => {
  it('after a timeout, the next task of the group starts only when the timed-out tool returns', async () => {
    const { clock, engine, started, finish, flush } = stubbornSetup()
    const handle = engine.start({ id: 'w', limits: { groups: { llm: 1 } }, tasks: [task('a', { timeout: '50ms' }), task('b')] })
    await flush()
    expect(started).toEqual(['a'])
    clock.advance(50)
    await flush()
    expect(handle.taskStatus('a')).toBe('failed')
    // The provider still has a's call in flight: b waits for the group.
    expect(started).toEqual(['a'])
    finish.get('a')?.()
    await flush()
    expect(started).toEqual(['a', 'b'])
    finish.get('b')?.()
    const result = await handle.result
    expect(result.tasks['a']?.error?.code).toBe('TW_TIMEOUT')
    expect(result.tasks['b']?.status).toBe('succeeded')
    await engine.close()
  })

  it('a tool that heeds its signal gives the permit back as soon as it stops', async () => {
    const { clock, engine, started, finish, flush } = stubbornSetup({ listenToSignal: true })
    const handle = engine.start({ id: 'w', limits: { groups: { llm: 1 } }, tasks: [task('a', { timeout: '50ms' }), task('b')] })
    await flush()
    clock.advance(50)
    await flush()
    expect(started).toEqual(['a', 'b'])
    finish.get('b')?.()
    expect((await handle.result).tasks['b']?.status).toBe('succeeded')
    await engine.close()
  })

  it('after a cancel, the group of every run stays taken until the tool returns', async () => {
    const { engine, started, finish, flush } = stubbornSetup()
    const first = engine.start({ id: 'w', limits: { groups: { llm: 1 } }, tasks: [task('a')] })
    await flush()
    first.cancel('enough')
    expect((await first.result).status).toBe('cancelled')
    const second = engine.start({ id: 'w', limits: { groups: { llm: 1 } }, tasks: [task('b')] })
    await flush()
    expect(started).toEqual(['a'])
    finish.get('a')?.()
    await flush()
    expect(started).toEqual(['a', 'b'])
    finish.get('b')?.()
    expect((await second.result).status).toBe('succeeded')
    await engine.close()
  })

  it('a tool that never returns holds it for LINGER_MS at most, and a warning says so', async () => {
    const { clock, engine, started, warnings, finish, flush } = stubbornSetup()
    const handle = engine.start({ id: 'w', limits: { groups: { llm: 1 } }, tasks: [task('a', { timeout: '50ms' }), task('b')] })
    await flush()
    clock.advance(50)
    await flush()
    clock.advance(LINGER_MS - 1)
    await flush()
    expect(started).toEqual(['a'])
    clock.advance(1)
    await flush()
    expect(started).toEqual(['a', 'b'])
    expect(warnings).toEqual([expect.stringMatching(/^the tool of task "a" still runs 60 s after its attempt ended \(it ignores its abort signal\): its permit of "group:llm" is given back$/)])
    // Its late return gives nothing back twice: once b ends, no key holds a permit.
    finish.get('a')?.()
    finish.get('b')?.()
    expect((await handle.result).tasks['b']?.status).toBe('succeeded')
    expect(engine.stats().keys).toEqual([])
    await engine.close()
  })
})
