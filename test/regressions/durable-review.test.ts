/**
 * Defects of the durable-run path found in review, each with the case that showed it:
 * - two `resume()` calls for one run in one engine both won the lease (every store grants it again
 *   to the same owner) and ran the interrupted task twice;
 * - `close()` during a `resume()` resolved first, and the resumed run then started on the closed
 *   engine;
 * - an append whose answer was lost (written, but the connection broke during COMMIT) was offered
 *   again, refused as a repeat, and every run of that batch failed;
 * - a run of this engine whose journal gave up (a store outage) stayed `running` in the store for
 *   good: `takeOverEvery` skipped every lease of its own, even long expired;
 * - misspelt durability and store options were ignored, and a fractional lease was accepted.
 */
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createEngine, MemoryRunStore, TaskweaveError } from 'taskweave'
import type { Engine } from 'taskweave'
import { openSqliteStore } from 'taskweave/stores/sqlite'
import { openPostgresStore } from 'taskweave/stores/postgres'
import { inAnotherProcess, stepChain, stepTool } from '../helpers.js'

const chain = stepChain

async function turns(n = 20): Promise<void> {
  for (let k = 0; k < n; k++) await new Promise((resolve) => setImmediate(resolve))
}

/** Leaves run `r` in `store` as a dead process would: `a` done, `b` started and never finished. */
async function crashedRun(store: MemoryRunStore): Promise<Engine> {
  const dead = createEngine({ tools: [stepTool([], new Set(['b']))], store: inAnotherProcess(store), builtins: false })
  dead.start(chain, { runId: 'r' })
  while (!(await store.load('r'))?.entries.some((entry) => entry.kind === 'start' && entry.taskId === 'b')) await turns(1)
  return dead
}

describe('durable runs: review defects', () => {
  it('refuses a second resume of a run while the first is reading the store, so no task runs twice', async () => {
    const store = new MemoryRunStore()
    await crashedRun(store)
    const calls: string[] = []
    const engine = createEngine({ tools: [stepTool(calls, new Set())], store, builtins: false })
    try {
      const [first, second] = await Promise.allSettled([engine.resume('r'), engine.resume('r')])
      expect(first.status).toBe('fulfilled')
      expect(second.status).toBe('rejected')
      expect(TaskweaveError.is((second as PromiseRejectedResult).reason, 'TW_INVALID_STATE')).toBe(true)
      const result = await (first as PromiseFulfilledResult<Awaited<ReturnType<Engine['resume']>>>).value.result
      expect(result.status).toBe('succeeded')
      expect(calls).toEqual(['b', 'c'])
      expect((await store.load('r'))?.status).toBe('succeeded')
    } finally {
      await engine.close()
    }
  })

  it('a resume that close() overtakes gives its lease back instead of starting the run on a closed engine', async () => {
    const store = new MemoryRunStore()
    await crashedRun(store)
    const calls: string[] = []
    const engine = createEngine({ tools: [stepTool(calls, new Set())], store, builtins: false })
    const resuming = engine.resume('r')
    const closed = engine.close().then(() => calls.push('<closed>'))
    const outcome = await resuming.then(
      () => 'started',
      (err: unknown) => (TaskweaveError.is(err, 'TW_CANCELLED') ? 'cancelled' : String(err)),
    )
    await closed
    await turns()
    expect(outcome).toBe('cancelled')
    expect(calls).toEqual(['<closed>'])
    const stored = await store.load('r')
    expect(stored?.status).toBe('running')
    // Given back: expired at once, so the next process can resume it.
    expect(stored?.lease?.expiresAt).toBe(0)
  })

  it('an append whose answer was lost is read back, not offered again: the runs of that batch go on', async () => {
    /** A store that writes its first append but loses the answer (a connection broken during COMMIT). */
    class AnswerLost extends MemoryRunStore {
      #drops = 1
      override async append(batches: Parameters<MemoryRunStore['append']>[0]): ReturnType<MemoryRunStore['append']> {
        const written = await super.append(batches)
        if (this.#drops-- > 0) throw new TaskweaveError('TW_STORE', 'the answer was lost', { retryable: true, details: { uncertain: true } })
        return written
      }
    }
    const store = new AnswerLost()
    const calls: string[] = []
    const engine = createEngine({ tools: [stepTool(calls, new Set())], store, builtins: false })
    try {
      // Two runs, so the first append holds both (a bystander in the same group commit).
      const [victim, bystander] = await Promise.all([engine.run(chain, { runId: 'victim' }), engine.run(chain, { runId: 'bystander' })])
      expect([victim.status, bystander.status]).toEqual(['succeeded', 'succeeded'])
      expect((await store.load('victim'))?.status).toBe('succeeded')
      expect((await store.load('bystander'))?.status).toBe('succeeded')
      expect(calls.sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c'])
    } finally {
      await engine.close()
    }
  })

  it('takes back its own run once the journal gave up on it and its lease expired', async () => {
    /** A store that refuses every append for a while (an outage longer than the journal's tries). */
    class Outage extends MemoryRunStore {
      down = true
      override async append(batches: Parameters<MemoryRunStore['append']>[0]): ReturnType<MemoryRunStore['append']> {
        if (this.down) throw new TaskweaveError('TW_STORE', 'the store is away', { retryable: true })
        return super.append(batches)
      }
    }
    const store = new Outage({ exclusive: false })
    const calls: string[] = []
    const engine = createEngine({ tools: [stepTool(calls, new Set())], store, builtins: false, durability: { takeOverEvery: 20, leaseTtlMs: 100, storeOutageLimit: 0 } })
    try {
      const taken = new Promise<string>((resolve) => engine.events.on('run:taken-over', (event) => resolve(event.runId)))
      const told = await engine.run(chain, { runId: 'victim' })
      expect(told.status).toBe('failed')
      store.down = false
      expect(await taken).toBe('victim')
      for (let k = 0; k < 200 && (await store.load('victim'))?.status === 'running'; k++) await new Promise((resolve) => setTimeout(resolve, 10))
      expect((await store.load('victim'))?.status).toBe('succeeded')
    } finally {
      await engine.close()
    }
  })

  it('refuses misspelt durability options and a lease that is not a whole number of ms', async () => {
    const store = new MemoryRunStore()
    const refused = (make: () => unknown): string => {
      try {
        make()
        return 'accepted'
      } catch (err) {
        return TaskweaveError.is(err, 'TW_INVALID_OPTION') ? err.message : String(err)
      }
    }
    expect(refused(() => createEngine({ store, durability: { resumeOnstart: true } as never }))).toMatch(/unknown option "durability\.resumeOnstart" of createEngine\(\); did you mean "durability\.resumeOnStart"/)
    expect(refused(() => createEngine({ store, durability: { leaseTtlMs: 1500.5 } }))).toMatch(/durability\.leaseTtlMs/)
    expect(refused(() => createEngine({ store, durability: { leaseTtlMs: Infinity } }))).toMatch(/durability\.leaseTtlMs/)
  })

  it('refuses misspelt SQLite and PostgreSQL store options', async () => {
    const path = join(tmpdir(), `tw-review-${process.pid}-${Date.now()}.db`)
    try {
      await expect(openSqliteStore({ path, busyTimeout: 5000 } as never)).rejects.toThrow(/unknown option "busyTimeout" of openSqliteStore\(\); did you mean "busyTimeoutMs"/)
      await expect(openPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', pool: 2 } as never)).rejects.toThrow(/unknown option "pool" of openPostgresStore\(\); did you mean "poolSize"/)
    } finally {
      rmSync(path, { force: true })
    }
  })
})
