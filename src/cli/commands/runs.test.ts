import { describe, expect, it } from 'vitest'
import type { NewRun } from '../../core/store.js'
import { MemoryRunStore } from '../../stores/memory.js'
import { listRuns } from './runs.js'

const T0 = 1_800_000_000_000

function newRun(runId: string, createdAt: number): NewRun {
  return { runId, workflowId: 'flow', workflowHash: 'a'.repeat(64), definition: '{"id":"flow","tasks":[]}', inputs: '{}', settings: '{}', createdAt }
}

describe('listRuns (taskweave runs --status running | stopped)', () => {
  it('tells running from stopped runs by their leases before --limit applies', async () => {
    // Not exclusive (as PostgreSQL): a lease that has not expired is a process running the run.
    const store = new MemoryRunStore({ exclusive: false })
    await store.createRun(newRun('stopped-old', T0), { owner: 'dead', ttlMs: 1_000, now: T0 })
    await store.createRun(newRun('live-1', T0 + 10), { owner: 'a', ttlMs: 60_000, now: T0 + 10 })
    await store.createRun(newRun('live-2', T0 + 20), { owner: 'b', ttlMs: 60_000, now: T0 + 20 })
    const now = T0 + 5_000
    expect((await listRuns(store, { status: 'stopped', limit: 2 }, now)).map((run) => run.runId)).toEqual(['stopped-old'])
    expect((await listRuns(store, { status: 'running', limit: 1 }, now)).map((run) => run.runId)).toHaveLength(1)
    expect((await listRuns(store, { status: 'running', limit: 5 }, now)).map((run) => run.runId).sort()).toEqual(['live-1', 'live-2'])
    expect(await listRuns(store, { limit: 5 }, now)).toHaveLength(3)
  })

  it('on an exclusive store (SQLite: the command holds it) every unfinished run is stopped', async () => {
    const store = new MemoryRunStore({ exclusive: true })
    await store.createRun(newRun('r', T0), { owner: 'killed', ttlMs: 60_000, now: T0 })
    expect((await listRuns(store, { status: 'stopped', limit: 5 }, T0 + 10)).map((run) => run.runId)).toEqual(['r'])
    expect(await listRuns(store, { status: 'running', limit: 5 }, T0 + 10)).toEqual([])
  })
})
