import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore, TaskweaveError } from 'taskweave'
import { inAnotherProcess } from '../helpers.js'

const never = (): Promise<never> => new Promise(() => undefined)

function tools(hang: Set<string>) {
  const calls: string[] = []
  const step = defineTool({
    name: 'step',
    input: z.object({ id: z.string() }),
    run: async ({ id }) => {
      calls.push(id)
      if (hang.has(id)) await never()
      return id
    },
  })
  return { step, calls }
}

const flow = {
  id: 'flow',
  tasks: [
    { id: 'a', tool: 'step', input: { id: 'a' } },
    { id: 'b', tool: 'step', input: { id: 'b' }, dependsOn: ['a'] },
    { id: 'c', tool: 'step', input: { id: 'c' }, dependsOn: ['b'] },
  ],
}

async function crashedRun(store: MemoryRunStore, runId: string): Promise<void> {
  // The first process "dies" while b runs: its engine is dropped without closing, its lease released by hand.
  const first = tools(new Set(['b']))
  const engine = createEngine({ tools: [first.step], store: inAnotherProcess(store), builtins: false })
  engine.start(flow, { runId })
  while (!(await store.load(runId))?.entries.some((e) => e.kind === 'start' && e.taskId === 'b')) await new Promise((resolve) => setImmediate(resolve))
}

describe('engine.cancelUnfinished', () => {
  it('ends a run a crash left unfinished as cancelled without running anything; resume and resumeUnfinished leave it', async () => {
    const store = new MemoryRunStore()
    await crashedRun(store, 'u1')
    const second = tools(new Set())
    const engine = createEngine({ tools: [second.step], store, builtins: false })
    const cancelled = await engine.cancelUnfinished('u1', { reason: 'not needed any more' })
    expect(cancelled).toEqual({ runId: 'u1', status: 'cancelled', counts: { succeeded: 1, cancelled: 1 }, reason: 'not needed any more' })
    expect(second.calls).toEqual([])
    const stored = await store.load('u1')
    expect(stored?.status).toBe('cancelled')
    expect(stored?.counts).toEqual({ succeeded: 1, cancelled: 1 })
    expect(stored?.entries.at(-2)).toMatchObject({ kind: 'stop', data: JSON.stringify({ status: 'cancelled', reason: 'not needed any more' }) })
    expect(await engine.resumeUnfinished()).toEqual([])
    expect(await engine.resume('u1').catch((err: unknown) => err)).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining('has finished (cancelled)') })
    expect(await engine.cancelUnfinished('u1').catch((err: unknown) => err)).toMatchObject({ code: 'TW_INVALID_STATE', message: 'run "u1" has finished (cancelled): there is nothing to cancel' })
    await engine.close()
  })

  it('cancels a run running in this engine as its handle would', async () => {
    const store = new MemoryRunStore()
    const t = tools(new Set(['b']))
    const engine = createEngine({ tools: [t.step], store, builtins: false })
    const handle = engine.start(flow, { runId: 'u2' })
    while (!t.calls.includes('b')) await new Promise((resolve) => setImmediate(resolve))
    expect(await engine.cancelUnfinished('u2', { reason: 'stop it' })).toMatchObject({ runId: 'u2', status: 'cancelled', reason: 'stop it' })
    expect((await handle.result).reason).toBe('stop it')
    expect((await store.load('u2'))?.status).toBe('cancelled')
    await engine.close()
  })

  it('refuses a record of this engine\'s own live background work, pointing to background.cancel()', async () => {
    const store = new MemoryRunStore()
    const engine = createEngine({ store, builtins: false })
    const id = engine.background.submit({ conversationId: 'conv-c', name: 'fn', run: () => never() })
    for (let k = 0; k < 10; k++) await new Promise((resolve) => setImmediate(resolve))
    const record = (await store.list({ labels: { conversation: 'conv-c' } }))[0]
    expect(await engine.cancelUnfinished(record?.runId as string).catch((err: unknown) => err)).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining(`is background task "${id}" of conversation "conv-c", running in this engine: cancel it with engine.background.cancel()`) })
    expect(engine.background.status(id)).toMatchObject({ status: 'running' })
    await engine.close()
  })

  it('refuses what it cannot do, naming it: an unknown run, a bad reason, an unknown option', async () => {
    const store = new MemoryRunStore()
    const engine = createEngine({ tools: [tools(new Set()).step], store, builtins: false })
    expect(TaskweaveError.is(await engine.cancelUnfinished('nope').catch((err: unknown) => err), 'TW_STORE_NOT_FOUND')).toBe(true)
    await crashedRun(store, 'u3')
    expect(await engine.cancelUnfinished('u3', { reason: '' }).catch((err: unknown) => err)).toMatchObject({ code: 'TW_INVALID_OPTION', message: 'reason must be a non-empty string' })
    expect(await engine.cancelUnfinished('u3', { resaon: 'typo' } as never).catch((err: unknown) => err)).toMatchObject({ code: 'TW_INVALID_OPTION' })
    expect((await store.load('u3'))?.status).toBe('running')
    await engine.close()
  })
})
