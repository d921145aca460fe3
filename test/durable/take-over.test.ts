/**
 * `durability.takeOverEvery`: an engine that shares a store with another takes over the runs of an
 * owner that died (its lease expired) and finishes them by replay; it leaves a live owner's runs
 * alone. Two engines on one non-exclusive memory store stand for two processes on PostgreSQL;
 * manual clocks move the wall time past the lease.
 */
import { describe, expect, it } from 'vitest'
import { createEngine, MemoryRunStore } from 'taskweave'
import { ManualClock } from 'taskweave/testing'
import { stepChain, stepTool } from '../helpers.js'

const T0 = 1_800_000_000_000

const flow = stepChain

async function settle(): Promise<void> {
  for (let k = 0; k < 20; k++) await new Promise((resolve) => setImmediate(resolve))
}

describe('taking over the runs of a dead owner', () => {
  it('resumes a run once its owner lease has expired, without running its finished tasks again', async () => {
    const store = new MemoryRunStore({ exclusive: false })
    const firstCalls: string[] = []
    // The first owner "dies" holding b: its tool never returns and its clock never moves again.
    const clockA = new ManualClock(0, T0)
    const ownerA = createEngine({ tools: [stepTool(firstCalls, new Set(['b']))], store, builtins: false, clock: clockA, durability: { owner: 'a', leaseTtlMs: 10_000 } })
    ownerA.start(flow, { runId: 'r1' })
    while (!(await store.load('r1'))?.entries.some((e) => e.kind === 'ok' && e.taskId === 'a')) await settle()
    expect(firstCalls).toEqual(['a', 'b'])

    const secondCalls: string[] = []
    const clockB = new ManualClock(0, T0)
    const standby = createEngine({ tools: [stepTool(secondCalls, new Set())], store, builtins: false, clock: clockB, durability: { owner: 'b', leaseTtlMs: 10_000, takeOverEvery: '1s' } })
    const takenOver: { runId: string; previousOwner: string }[] = []
    standby.events.on('run:taken-over', (e) => takenOver.push({ runId: e.runId, previousOwner: e.previousOwner }))

    // While the lease holds, the standby leaves the run alone.
    clockB.advance(1000)
    await settle()
    expect(takenOver).toEqual([])
    expect((await store.load('r1'))?.lease?.owner).toBe('a')

    // Past the lease (10 s after the run started): taken over, finished here; a ran once, b ran
    // again (it had no outcome), c here. Each look re-arms the next once it is done.
    for (let second = 2; second <= 9; second++) {
      clockB.advance(1000)
      await settle()
      expect(takenOver).toEqual([])
    }
    clockB.advance(1000)
    await settle()
    expect(takenOver).toEqual([{ runId: 'r1', previousOwner: 'a' }])
    while ((await store.load('r1'))?.status === 'running') await settle()
    const stored = await store.load('r1')
    expect(stored?.status).toBe('succeeded')
    expect(secondCalls).toEqual(['b', 'c'])
    await standby.close()
  })

  it('rejects a negative or tiny period with an error naming the option', () => {
    expect(() => createEngine({ store: new MemoryRunStore(), durability: { takeOverEvery: '1ms' } })).toThrow(/durability\.takeOverEvery/)
  })
})
