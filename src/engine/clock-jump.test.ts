import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import type { Logger } from '../core/logger.js'
import type { JournalEntry } from '../core/store.js'
import { MemoryRunStore } from '../stores/memory.js'
import { ManualClock } from '../testing/manual-clock.js'
import { ClockJumpWatch, describeJump, retryDelayAfterResume, warnIfJournalAhead } from './clock-jump.js'
import { createEngine } from './engine.js'

const HOUR = 3_600_000

function capture(): { readonly logger: Logger; readonly warnings: string[] } {
  const warnings: string[] = []
  const logger: Logger = { debug: () => {}, info: () => {}, warn: (message) => void warnings.push(message), error: (message) => void warnings.push(message), child: () => logger }
  return { logger, warnings }
}

describe('retryDelayAfterResume', () => {
  it('waits until the due time, but never longer than the delay', () => {
    expect(retryDelayAfterResume(10_000, 5_000, 7_000)).toBe(3_000)
    expect(retryDelayAfterResume(10_000, 5_000, 12_000)).toBe(0)
    // The clock went back two hours since the retry was written: its own delay, not 2 h more.
    expect(retryDelayAfterResume(10_000, 5_000, 10_000 - 2 * HOUR)).toBe(5_000)
    // A journal written before the delay was recorded: the due time alone.
    expect(retryDelayAfterResume(10_000, undefined, 10_000 - 2 * HOUR)).toBe(2 * HOUR)
  })
})

describe('ClockJumpWatch', () => {
  it('sees the wall clock leave the monotonic one by 2 s or more, either way', () => {
    const watch = new ClockJumpWatch(1_000_000, 50)
    expect(watch.look(1_010_000, 10_050)).toBe(0)
    expect(watch.look(1_011_500, 10_050)).toBe(0)
    expect(watch.look(1_011_500 + 2 * HOUR, 10_050)).toBe(2 * HOUR)
    expect(watch.look(1_011_500 + 10_000, 20_050)).toBe(-2 * HOUR)
  })

  it('describes jumps for a log line', () => {
    expect(describeJump(2 * HOUR)).toBe('+2 h 0 min')
    expect(describeJump(-35_000)).toBe('-35 s')
    expect(describeJump(-(5 * 60_000))).toBe('-5 min')
  })
})

describe('warnIfJournalAhead', () => {
  const entry = (at: number): JournalEntry => ({ seq: 1, kind: 'start', taskId: 'a', attempt: 1, at })
  it('warns when the newest entry is over a minute later than now, not otherwise', () => {
    const { logger, warnings } = capture()
    warnIfJournalAhead([entry(1_000), entry(2 * HOUR)], 'r1', 30_000, logger)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^run "r1": its journal's newest entry was written 2 h 0 min later than now \(1970-01-01T02:00:00\.000Z\): the wall clock went back/)
    warnIfJournalAhead([entry(90_000)], 'r2', 40_000, logger)
    expect(warnings).toHaveLength(1)
  })
})

describe('a durable engine whose wall clock jumps while a run is out', () => {
  it('says so in the log at the next lease renewal; the task it runs is not timed out by it', async () => {
    const clock = new ManualClock(0, Date.parse('2026-12-06T12:00:00Z'))
    const { logger, warnings } = capture()
    let release: () => void = () => {}
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => (started = resolve))
    const held = defineTool({
      name: 'held',
      input: z.object({}),
      run: () =>
        new Promise<string>((resolve) => {
          release = () => resolve('done')
          started()
        }),
    })
    const engine = createEngine({ tools: [held], builtins: false, store: new MemoryRunStore(), clock, logger, durability: { leaseTtlMs: 3_000 } })
    const handle = engine.start({ id: 'jump', tasks: [{ id: 'a', tool: 'held', timeout: '5s' }] })
    await running
    clock.advance(1_000)
    await Promise.resolve()
    clock.setWallTime(clock.wallNow() + 2 * HOUR)
    clock.advance(1_000)
    await Promise.resolve()
    expect(warnings.filter((w) => w.startsWith('the wall clock jumped'))).toEqual([expect.stringMatching(/^the wall clock jumped \+2 h 0 min: running tasks' timeouts and retry delays are unaffected/)])
    release()
    const result = await clock.runUntilSettled(handle.result)
    expect(result.tasks['a']?.status).toBe('succeeded')
    await engine.close()
  })
})

describe('a durable run closed, then resumed after the wall clock went back 2 h', () => {
  it('runs its stopped attempt again at once, not 2 h later (the stop entry carries no delay of its own)', async () => {
    const clock = new ManualClock(0, Date.parse('2026-12-06T12:00:00Z'))
    const store = new MemoryRunStore()
    let calls = 0
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => (started = resolve))
    const step = defineTool({
      name: 'step',
      input: z.object({}),
      run: (_input, ctx) => {
        calls++
        if (calls === 1) {
          started()
          return new Promise<string>((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true }))
        }
        return 'done'
      },
    })
    const first = createEngine({ tools: [step], builtins: false, store, clock })
    const handle = first.start({ id: 'stopped', tasks: [{ id: 'a', tool: 'step' }] })
    await running
    await clock.runUntilSettled(first.close())
    await handle.result

    clock.setWallTime(clock.wallNow() - 2 * HOUR)
    const { logger, warnings } = capture()
    const second = createEngine({ tools: [step], builtins: false, store, clock, logger })
    const resumed = await second.resume(handle.id)
    const before = clock.now()
    let startedAfter: number | undefined
    resumed.on('task:started', () => (startedAfter ??= clock.now() - before))
    const result = await clock.runUntilSettled(resumed.result)
    expect(result.tasks['a']?.status).toBe('succeeded')
    expect(startedAfter).toBe(0)
    expect(warnings.join('\n')).toMatch(/its journal's newest entry was written 2 h 0 min later than now/)
    await second.close()
  })
})
