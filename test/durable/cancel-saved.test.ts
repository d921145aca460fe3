/**
 * `handle.cancelSaved()`: a durable run's cancel is in the store once it resolves true (what the
 * HTTP API waits for before it answers a cancel), and false where there is nothing to hold.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool, MemoryRunStore } from 'taskweave'

/** A store whose appends wait while `held` (each one resolves when let go). */
class HeldStore extends MemoryRunStore {
  held = false
  readonly #waiting: (() => void)[] = []
  override async append(batches: Parameters<MemoryRunStore['append']>[0]): ReturnType<MemoryRunStore['append']> {
    if (this.held) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    return super.append(batches)
  }
  letGo(): void {
    this.held = false
    for (const go of this.#waiting.splice(0)) go()
  }
}

const wait = defineTool({
  name: 'wait',
  input: z.object({}),
  run: (_input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
})
const flow = { id: 'w', tasks: [{ id: 'a', tool: 'wait' }, { id: 'b', tool: 'wait', dependsOn: ['a'] }] }

async function turns(n = 20): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

describe('handle.cancelSaved()', () => {
  it('resolves true only once the stop entry is in the store', async () => {
    const store = new HeldStore()
    await using engine = createEngine({ tools: [wait], builtins: false, store })
    const handle = engine.start(flow, { runId: 'r' })
    expect(await handle.saved).toBe(true)
    await turns()
    store.held = true
    handle.cancel('enough')
    let saved: boolean | undefined
    void handle.cancelSaved().then((value) => (saved = value))
    await turns()
    expect(saved).toBeUndefined()
    expect((await store.load('r'))?.entries.some((entry) => entry.kind === 'stop')).toBe(false)
    store.letGo()
    await expect.poll(() => saved).toBe(true)
    expect((await store.load('r'))?.entries.find((entry) => entry.kind === 'stop')?.data).toContain('enough')
    expect((await handle.result).status).toBe('cancelled')
    expect(await handle.cancelSaved()).toBe(true)
  })

  it('a cancel from inside an event listener (made a microtask later) is waited for too', async () => {
    const store = new HeldStore()
    await using engine = createEngine({ tools: [wait], builtins: false, store })
    const handle = engine.start(flow, { runId: 'r2' })
    let saved: Promise<boolean> | undefined
    handle.on('task:started', () => {
      handle.cancel('from a listener')
      saved = handle.cancelSaved()
    })
    expect(await handle.saved).toBe(true)
    await expect.poll(() => saved).toBeDefined()
    expect(await saved).toBe(true)
    expect((await store.load('r2'))?.entries.some((entry) => entry.kind === 'stop')).toBe(true)
  })

  it('is false for a run kept in memory, and for a run not cancelled', async () => {
    await using engine = createEngine({ tools: [wait], builtins: false })
    const handle = engine.start(flow)
    expect(await handle.cancelSaved()).toBe(false)
    handle.cancel()
    expect(await handle.cancelSaved()).toBe(false)
    expect((await handle.result).status).toBe('cancelled')
  })
})
