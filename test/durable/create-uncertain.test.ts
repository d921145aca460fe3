import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'

const step = defineTool({ name: 'step', input: z.object({}), run: () => 'done' })

/** A store whose next createRun commits, then reports a broken connection (or fails before committing). */
class BreaksOnCreate extends MemoryRunStore {
  commitFirst = true
  override async createRun(...args: Parameters<MemoryRunStore['createRun']>): ReturnType<MemoryRunStore['createRun']> {
    if (this.commitFirst) await super.createRun(...args)
    throw new TaskweaveError('TW_STORE', 'connection reset while committing', { retryable: true, details: { uncertain: true } })
  }
}

describe('a run whose creation had an unknown outcome', () => {
  it('is read back: created under this engine\'s lease, it runs (not left for another process to run unseen)', async () => {
    const store = new BreaksOnCreate()
    const engine = createEngine({ tools: [step], store, builtins: false })
    const result = await engine.run({ id: 'flow', tasks: [{ id: 'a', tool: 'step' }] }, { runId: 'c1' })
    expect(result.status).toBe('succeeded')
    expect((await store.load('c1'))?.status).toBe('succeeded')
    await engine.close()
  })

  it('is read back again when the first read fails too (the break took the pooled connection it went out on)', async () => {
    class BreaksTwice extends BreaksOnCreate {
      failedReads = 0
      override async load(...args: Parameters<MemoryRunStore['load']>): ReturnType<MemoryRunStore['load']> {
        if (this.failedReads++ === 0) throw new TaskweaveError('TW_STORE', 'Connection terminated unexpectedly', { retryable: true })
        return super.load(...args)
      }
    }
    const store = new BreaksTwice()
    const engine = createEngine({ tools: [step], store, builtins: false })
    const result = await engine.run({ id: 'flow', tasks: [{ id: 'a', tool: 'step' }] }, { runId: 'c3' })
    expect(result.status).toBe('succeeded')
    expect(store.failedReads).toBeGreaterThan(1)
    await engine.close()
  })

  it('is refused, as before, when the store does not hold it', async () => {
    const store = new BreaksOnCreate()
    store.commitFirst = false
    const engine = createEngine({ tools: [step], store, builtins: false })
    const result = await engine.run({ id: 'flow', tasks: [{ id: 'a', tool: 'step' }] }, { runId: 'c2' })
    expect(result.status).toBe('failed')
    expect(result.reason).toContain('did not accept the run: connection reset while committing')
    expect(await store.load('c2')).toBeUndefined()
    await engine.close()
  })
})
