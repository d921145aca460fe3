/**
 * The run store conformance suite: every guarantee of the `RunStore` port as a case that throws
 * when the store breaks it. The memory, SQLite and PostgreSQL adapters run it; a third-party
 * adapter runs it the same way, with any test framework:
 *
 * ```ts
 * import { storeConformanceCases } from 'taskweave/testing'
 * for (const c of storeConformanceCases(openMyStore)) it(c.name, c.run)
 * ```
 * @module
 */
import assert from 'node:assert/strict'
import type { JournalEntry, Lease, NewRun, RunStore } from '../core/store.js'

/** A store under test, opened afresh for one case. */
export interface StoreUnderTest {
  readonly store: RunStore
  /** Closes the store and opens the same storage again (omit for a store that keeps nothing). */
  readonly reopen?: () => Promise<RunStore>
  /** Removes what the case left behind (called after the store was closed). */
  readonly cleanup?: () => Promise<void>
}

/** One case of the suite. */
export interface StoreConformanceCase {
  readonly name: string
  readonly run: () => Promise<void>
}

const OWNER_A = 'owner-a'
const OWNER_B = 'owner-b'
const TTL = 30_000
const T0 = 1_800_000_000_000

/** A new run record for the cases. */
function newRun(runId: string, overrides: Partial<NewRun> = {}): NewRun {
  return {
    runId,
    workflowId: 'flow',
    workflowHash: 'a'.repeat(64),
    definition: '{"id":"flow","tasks":[{"id":"a","tool":"noop"}]}',
    inputs: '{"topic":"otters ü ✓"}',
    settings: '{"concurrency":4}',
    createdAt: T0,
    ...overrides,
  }
}

function entries(from: number, count: number, taskPrefix = 't'): JournalEntry[] {
  const list: JournalEntry[] = []
  for (let k = 0; k < count; k++) {
    const seq = from + k
    list.push(seq % 2 === 1 ? { seq, kind: 'start', taskId: `${taskPrefix}${seq >> 1}`, attempt: 1, at: T0 + seq } : { seq, kind: 'ok', taskId: `${taskPrefix}${(seq - 1) >> 1}`, attempt: 1, at: T0 + seq, data: `{"n":${seq}}` })
  }
  return list
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: unknown }).code, code)
    return true
  })
}

/**
 * The cases, each opening its own store with `open` and closing it at the end. `open` gets a
 * prefix unique to the case, for stores that share a server.
 */
export function storeConformanceCases(open: (caseId: string) => Promise<StoreUnderTest>): StoreConformanceCase[] {
  const cases: StoreConformanceCase[] = []
  const add = (name: string, body: (t: StoreUnderTest) => Promise<RunStore | void>): void => {
    cases.push({
      name,
      run: async () => {
        const t = await open(name.replace(/[^a-z0-9]+/gi, '_').slice(0, 40))
        let last: RunStore = t.store
        try {
          const reopened = await body(t)
          if (reopened !== undefined) last = reopened
        } finally {
          await last.close()
          await t.cleanup?.()
        }
      },
    })
  }

  add('createRun records the run with a lease of epoch 1', async ({ store }) => {
    const lease = await store.createRun(newRun('r1', { labels: { source: 'flow.yaml' } }), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    assert.deepEqual(lease, { runId: 'r1', owner: OWNER_A, epoch: 1, expiresAt: T0 + TTL })
    const run = await store.load('r1')
    assert.ok(run)
    assert.equal(run.status, 'running')
    assert.equal(run.definition, newRun('r1').definition)
    assert.equal(run.inputs, newRun('r1').inputs)
    assert.equal(run.settings, newRun('r1').settings)
    assert.equal(run.workflowHash, 'a'.repeat(64))
    assert.equal(run.createdAt, T0)
    assert.equal(run.finishedAt, undefined)
    assert.deepEqual(run.labels, { source: 'flow.yaml' })
    assert.deepEqual(run.entries, [])
    assert.equal(run.lease?.epoch, 1)
  })

  add('createRun refuses an existing run id with TW_STORE_CONFLICT', async ({ store }) => {
    await store.createRun(newRun('dup'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await rejectsWithCode(store.createRun(newRun('dup'), { owner: OWNER_B, ttlMs: TTL, now: T0 }), 'TW_STORE_CONFLICT')
  })

  add('list and prune refuse what they cannot apply (an unknown name, a status no run has, prune without finishedBefore) with TW_INVALID_OPTION', async ({ store }) => {
    await rejectsWithCode(store.list({ bogus: 1 } as never), 'TW_INVALID_OPTION')
    await rejectsWithCode(store.list({ status: 'zzz' } as never), 'TW_INVALID_OPTION')
    await rejectsWithCode(store.list({ limit: 0 }), 'TW_INVALID_OPTION')
    await rejectsWithCode(store.prune(undefined as never), 'TW_INVALID_OPTION')
    await rejectsWithCode(store.prune({ finishedBefore: Number.NaN }), 'TW_INVALID_OPTION')
    await rejectsWithCode(store.prune({ finishedBefore: T0, labels: { team: 5 } } as never), 'TW_INVALID_OPTION')
    // Text PostgreSQL's jsonb cannot hold is refused the same on every store, in a filter too.
    await rejectsWithCode(store.list({ labels: { team: 'a\u0000' } }), 'TW_INVALID_OPTION')
    await rejectsWithCode(store.prune({ finishedBefore: T0, labels: { ['\ud800']: 'x' } }), 'TW_INVALID_OPTION')
  })

  add('load and acquire of an unknown run: undefined and TW_STORE_NOT_FOUND', async ({ store }) => {
    assert.equal(await store.load('nope'), undefined)
    await rejectsWithCode(store.acquire('nope', { owner: OWNER_A, ttlMs: TTL, now: T0 }), 'TW_STORE_NOT_FOUND')
  })

  add('append keeps every field of every entry, in seq order', async ({ store }) => {
    const lease = await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const written: JournalEntry[] = [
      { seq: 1, kind: 'start', taskId: 'a', attempt: 1, at: T0 + 1 },
      { seq: 2, kind: 'fail', taskId: 'a', attempt: 1, at: T0 + 2, data: '{"error":{"code":"TW_TIMEOUT","message":"slow ⏱"},"retryAt":1800000001000}' },
      { seq: 3, kind: 'start', taskId: 'a', attempt: 2, at: T0 + 3 },
      { seq: 4, kind: 'ok', taskId: 'a', attempt: 2, at: T0 + 4, data: '{"text":"ünïcödé \\u0000 \\"quoted\\""}', added: '[{"id":"b","tool":"noop"}]' },
      { seq: 5, kind: 'ok', taskId: 'b', attempt: 1, at: T0 + 5 },
      { seq: 6, kind: 'add', taskId: 'a', at: T0 + 6, data: '{"id":"c","tool":"noop"}' },
      { seq: 7, kind: 'handled', taskId: 'a', at: T0 + 7 },
      { seq: 8, kind: 'stop', at: T0 + 8, data: '{"status":"cancelled","reason":"asked"}' },
      { seq: 9, kind: 'start', taskId: 'pay', attempt: 1, at: T0 + 9 },
      { seq: 10, kind: 'park', taskId: 'pay', attempt: 1, at: T0 + 10, data: '{"reason":"its outcome is unknown"}' },
    ]
    await store.append([{ runId: 'r1', epoch: lease.epoch, entries: written.slice(0, 3) }])
    await store.append([{ runId: 'r1', epoch: lease.epoch, entries: written.slice(3) }])
    const run = await store.load('r1')
    assert.deepEqual(run?.entries.map((e) => ({ ...e })), written)
  })

  add('one append holds the batches of many runs', async ({ store }) => {
    const ids = ['m1', 'm2', 'm3']
    const leases = await Promise.all(ids.map((id) => store.createRun(newRun(id), { owner: OWNER_A, ttlMs: TTL, now: T0 })))
    const result = await store.append(leases.map((lease, k) => ({ runId: lease.runId, epoch: lease.epoch, entries: entries(1, 2 + k * 2) })))
    assert.deepEqual(result.fenced, [])
    for (const [k, id] of ids.entries()) assert.equal((await store.load(id))?.entries.length, 2 + k * 2)
  })

  add('a seq gap or repeat rejects the whole append, other runs included', async ({ store }) => {
    const a = await store.createRun(newRun('ga'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const b = await store.createRun(newRun('gb'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.append([{ runId: 'ga', epoch: a.epoch, entries: entries(1, 2) }])
    await assert.rejects(store.append([
      { runId: 'gb', epoch: b.epoch, entries: entries(1, 2) },
      { runId: 'ga', epoch: a.epoch, entries: entries(4, 1) },
    ]))
    assert.equal((await store.load('gb'))?.entries.length, 0)
    assert.equal((await store.load('ga'))?.entries.length, 2)
    await assert.rejects(store.append([{ runId: 'ga', epoch: a.epoch, entries: entries(2, 1) }]))
    assert.equal((await store.load('ga'))?.entries.length, 2)
  })

  add('a large batch (10,000 entries with outputs) is appended whole', async ({ store }) => {
    const lease = await store.createRun(newRun('big'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.append([{ runId: 'big', epoch: lease.epoch, entries: entries(1, 10_000) }])
    const run = await store.load('big')
    assert.equal(run?.entries.length, 10_000)
    assert.equal(run?.entries[9_999]?.data, '{"n":10000}')
  })

  add('acquire: refused while another owner holds an unexpired lease, granted with epoch + 1 after expiry', async ({ store }) => {
    await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    assert.equal(await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL - 1 }), undefined)
    const taken = await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL + 1 })
    assert.deepEqual(taken, { runId: 'r1', owner: OWNER_B, epoch: 2, expiresAt: T0 + TTL + 1 + TTL })
    assert.equal((await store.load('r1'))?.lease?.owner, OWNER_B)
  })

  add('fencing: an append with an old epoch is refused and changes nothing', async ({ store }) => {
    const first = await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.append([{ runId: 'r1', epoch: first.epoch, entries: entries(1, 2) }])
    const second = await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL + 1 })
    assert.ok(second)
    const other = await store.createRun(newRun('r2'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const result = await store.append([
      { runId: 'r1', epoch: first.epoch, entries: entries(3, 2) },
      { runId: 'r2', epoch: other.epoch, entries: entries(1, 2) },
    ])
    assert.deepEqual(result.fenced, ['r1'])
    assert.equal((await store.load('r1'))?.entries.length, 2)
    assert.equal((await store.load('r2'))?.entries.length, 2)
    const ok = await store.append([{ runId: 'r1', epoch: second.epoch, entries: entries(3, 2) }])
    assert.deepEqual(ok.fenced, [])
    assert.equal((await store.load('r1'))?.entries.length, 4)
  })

  add('acquire by the same owner moves the epoch on', async ({ store }) => {
    const first = await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const again = await store.acquire('r1', { owner: OWNER_A, ttlMs: TTL, now: T0 + 1 })
    assert.equal(again?.epoch, first.epoch + 1)
    assert.deepEqual((await store.append([{ runId: 'r1', epoch: first.epoch, entries: entries(1, 1) }])).fenced, ['r1'])
  })

  add('takeOver takes an unexpired lease only on an exclusive store', async ({ store }) => {
    await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const taken = await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + 1, takeOver: true })
    if (store.exclusive) assert.equal(taken?.epoch, 2)
    else assert.equal(taken, undefined)
  })

  add('takeOver spares the owners named live', async ({ store }) => {
    await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    assert.equal(await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + 1, takeOver: true, liveOwners: [OWNER_A] }), undefined)
    assert.equal((await store.load('r1'))?.lease?.owner, OWNER_A)
    // Once expired, it is free to take like any other.
    assert.equal((await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL + 1, takeOver: true, liveOwners: [OWNER_A] }))?.owner, OWNER_B)
  })

  add('renew extends many leases at once and names the ones lost', async ({ store }) => {
    const a = await store.createRun(newRun('ra'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const b = await store.createRun(newRun('rb'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    const c = await store.createRun(newRun('rc'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    // rc is taken by another owner after its lease ran out.
    assert.ok(await store.acquire('rc', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL + 5 }))
    const lost = await store.renew([a, b, c], T0 + TTL - 10, TTL)
    assert.deepEqual([...lost], ['rc'])
    // Renewed: still held by A at a time past the first expiry.
    assert.equal(await store.acquire('ra', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL + 100 }), undefined)
    assert.equal((await store.load('rb'))?.lease?.expiresAt, T0 + TTL - 10 + TTL)
  })

  add('release lets another owner take the run at once', async ({ store }) => {
    const lease = await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.release([lease])
    const taken = await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + 1 })
    assert.equal(taken?.epoch, 2)
    // A release of a lease that is no longer current changes nothing.
    await store.release([lease])
    assert.equal(await store.acquire('r1', { owner: 'owner-c', ttlMs: TTL, now: T0 + 2 }), undefined)
  })

  add('a finish entry marks the run finished; it can be neither acquired nor appended to', async ({ store }) => {
    const lease = await store.createRun(newRun('r1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.append([{ runId: 'r1', epoch: lease.epoch, entries: [...entries(1, 2), { seq: 3, kind: 'finish', at: T0 + 99, data: '{"status":"partial","counts":{"succeeded":1,"failed":1}}' }] }])
    const run = await store.load('r1')
    assert.equal(run?.status, 'partial')
    assert.equal(run?.finishedAt, T0 + 99)
    assert.deepEqual(run?.counts, { succeeded: 1, failed: 1 })
    assert.equal(run?.lease, undefined)
    assert.equal(await store.acquire('r1', { owner: OWNER_B, ttlMs: TTL, now: T0 + TTL * 10 }), undefined)
    assert.deepEqual((await store.append([{ runId: 'r1', epoch: lease.epoch, entries: entries(4, 1) }])).fenced, ['r1'])
    assert.deepEqual(await store.renew([lease], T0 + 100, TTL), ['r1'])
  })

  add('reopen: a failed, partial or cancelled run runs again under a new lease, with a reopen entry after its journal; nothing else is reopened', async ({ store }) => {
    if (store.reopen === undefined) return
    for (const [k, status] of ['failed', 'partial', 'cancelled'].entries()) {
      const runId = `re${k}`
      const lease = await store.createRun(newRun(runId), { owner: OWNER_A, ttlMs: TTL, now: T0 })
      await store.append([{ runId, epoch: lease.epoch, entries: [...entries(1, 2), { seq: 3, kind: 'finish', at: T0 + 50, data: `{"status":"${status}","counts":{"failed":1}}` }] }])
      const reopened = await store.reopen(runId, { owner: OWNER_B, ttlMs: TTL, now: T0 + 100, entry: { at: T0 + 100, data: '{"by":"ops","tasks":[]}' } })
      assert.deepEqual(reopened, { runId, owner: OWNER_B, epoch: lease.epoch + 1, expiresAt: T0 + 100 + TTL })
      const run = await store.load(runId)
      assert.equal(run?.status, 'running')
      assert.equal(run?.finishedAt, undefined)
      assert.deepEqual(run?.counts, {})
      assert.deepEqual(run?.lease, reopened)
      assert.deepEqual(run?.entries.slice(3), [{ seq: 4, kind: 'reopen', at: T0 + 100, data: '{"by":"ops","tasks":[]}' }])
      assert.deepEqual((await store.list({ status: 'running' })).map((r) => r.runId).includes(runId), true)
      // The old lease is fenced; the new one appends after the reopen entry, and can finish it again.
      assert.deepEqual((await store.append([{ runId, epoch: lease.epoch, entries: entries(5, 1) }])).fenced, [runId])
      assert.deepEqual((await store.append([{ runId, epoch: (reopened as Lease).epoch, entries: [...entries(5, 1), { seq: 6, kind: 'finish', at: T0 + 200, data: '{"status":"succeeded","counts":{"succeeded":2}}' }] }])).fenced, [])
      assert.equal((await store.load(runId))?.status, 'succeeded')
    }
    // Running and succeeded runs are not reopened, and nothing is written to them.
    const running = await store.createRun(newRun('busy'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    assert.equal(await store.reopen('busy', { owner: OWNER_B, ttlMs: TTL, now: T0 + 1, entry: { at: T0 + 1, data: '{}' } }), undefined)
    assert.deepEqual((await store.load('busy'))?.lease, running)
    assert.equal(await store.reopen('re0', { owner: OWNER_B, ttlMs: TTL, now: T0 + 300, entry: { at: T0 + 300, data: '{}' } }), undefined)
    assert.equal((await store.load('re0'))?.entries.length, 6)
    await rejectsWithCode(store.reopen('nope', { owner: OWNER_A, ttlMs: TTL, now: T0, entry: { at: T0, data: '{}' } }), 'TW_STORE_NOT_FOUND')
  })

  add('reopen: two callers at once, exactly one reopens the run and one reopen entry is written', async ({ store }) => {
    if (store.reopen === undefined) return
    const lease = await store.createRun(newRun('race'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.append([{ runId: 'race', epoch: lease.epoch, entries: [{ seq: 1, kind: 'finish', at: T0 + 1, data: '{"status":"failed","counts":{"failed":1}}' }] }])
    const both = await Promise.all([OWNER_A, OWNER_B].map((owner) => (store.reopen as NonNullable<RunStore['reopen']>)('race', { owner, ttlMs: TTL, now: T0 + 2, entry: { at: T0 + 2, data: `{"by":"${owner}"}` } })))
    assert.equal(both.filter((l) => l !== undefined).length, 1)
    assert.equal((await store.load('race'))?.entries.filter((e) => e.kind === 'reopen').length, 1)
  })

  add('reopen with afterSeq: only from the journal as the caller read it; a run retried and ended again meanwhile is left as it is', async ({ store }) => {
    if (store.reopen === undefined) return
    const lease = await store.createRun(newRun('seen'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await store.append([{ runId: 'seen', epoch: lease.epoch, entries: [...entries(1, 2), { seq: 3, kind: 'finish', at: T0 + 1, data: '{"status":"failed","counts":{"failed":1}}' }] }])
    // Another process retries it from seq 3, and the retry ends failed again (seq 4 to 6).
    const other = await store.reopen('seen', { owner: OWNER_B, ttlMs: TTL, now: T0 + 2, entry: { at: T0 + 2, data: '{"by":"b"}' }, afterSeq: 3 })
    assert.equal(other?.owner, OWNER_B)
    await store.append([{ runId: 'seen', epoch: (other).epoch, entries: [...entries(5, 1), { seq: 6, kind: 'finish', at: T0 + 3, data: '{"status":"failed","counts":{"failed":1}}' }] }])
    // A caller that read the journal at seq 3 is refused, and nothing is written.
    assert.equal(await store.reopen('seen', { owner: OWNER_A, ttlMs: TTL, now: T0 + 4, entry: { at: T0 + 4, data: '{"by":"a"}' }, afterSeq: 3 }), undefined)
    const run = await store.load('seen')
    assert.equal(run?.status, 'failed')
    assert.equal(run?.entries.length, 6)
    // From the journal as it is now, it reopens.
    assert.equal((await store.reopen('seen', { owner: OWNER_A, ttlMs: TTL, now: T0 + 5, entry: { at: T0 + 5, data: '{"by":"a"}' }, afterSeq: 6 }))?.owner, OWNER_A)
    assert.equal((await store.load('seen'))?.entries[6]?.kind, 'reopen')
  })

  add('list: newest first, filtered by status, workflow, time, labels, and limited', async ({ store }) => {
    for (let k = 0; k < 5; k++) {
      const lease = await store.createRun(newRun(`l${k}`, { createdAt: T0 + k * 1000, workflowId: k % 2 === 0 ? 'even' : 'odd', labels: { k: String(k), team: 'x' } }), { owner: OWNER_A, ttlMs: TTL, now: T0 })
      if (k < 2) await store.append([{ runId: `l${k}`, epoch: lease.epoch, entries: [{ seq: 1, kind: 'finish', at: T0 + k * 1000 + 1, data: '{"status":"succeeded","counts":{"succeeded":0}}' }] }])
    }
    assert.deepEqual((await store.list()).map((r) => r.runId), ['l4', 'l3', 'l2', 'l1', 'l0'])
    assert.deepEqual((await store.list({ status: 'running' })).map((r) => r.runId), ['l4', 'l3', 'l2'])
    assert.deepEqual((await store.list({ status: ['succeeded'] })).map((r) => r.runId), ['l1', 'l0'])
    assert.deepEqual((await store.list({ workflowId: 'even' })).map((r) => r.runId), ['l4', 'l2', 'l0'])
    assert.deepEqual((await store.list({ since: T0 + 3000 })).map((r) => r.runId), ['l4', 'l3'])
    assert.deepEqual((await store.list({ labels: { k: '3', team: 'x' } })).map((r) => r.runId), ['l3'])
    assert.deepEqual((await store.list({ limit: 2 })).map((r) => r.runId), ['l4', 'l3'])
    // No limit at all (what `taskweave doctor` and `retry --failed` ask for).
    assert.deepEqual((await store.list({ limit: Infinity })).map((r) => r.runId), ['l4', 'l3', 'l2', 'l1', 'l0'])
    const one = (await store.list({ labels: { k: '1' } }))[0]
    assert.equal(one?.status, 'succeeded')
    assert.deepEqual(one?.labels, { k: '1', team: 'x' })
  })

  add('labels: any text the engine lets through (astral characters, quotes, backslashes, control characters) is kept and filtered on as given', async ({ store }) => {
    const labels = { 'conversation 🧵': 'Ünïcödé 𝒳 "quoted" \\ back\\slash\ttab\u0001', plain: 'x' }
    await store.createRun(newRun('text', { labels }), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    assert.deepEqual((await store.load('text'))?.labels, labels)
    assert.deepEqual((await store.list({ labels: { 'conversation 🧵': labels['conversation 🧵'] } })).map((r) => r.runId), ['text'])
  })

  add('prune removes finished runs older than the bound, with their journals, and nothing else', async ({ store }) => {
    for (let k = 0; k < 4; k++) {
      const lease = await store.createRun(newRun(`p${k}`, { labels: { keep: k === 0 ? 'yes' : 'no' } }), { owner: OWNER_A, ttlMs: TTL, now: T0 })
      const entriesOf = k < 3 ? [...entries(1, 2), { seq: 3, kind: 'finish' as const, at: T0 + k * 1000, data: '{"status":"succeeded","counts":{"succeeded":1}}' }] : entries(1, 2)
      await store.append([{ runId: `p${k}`, epoch: lease.epoch, entries: entriesOf }])
    }
    assert.equal(await store.prune({ finishedBefore: T0 + 1500, labels: { keep: 'no' } }), 1)
    assert.equal(await store.load('p1'), undefined)
    assert.ok(await store.load('p0'))
    assert.equal(await store.prune({ finishedBefore: T0 + 5000 }), 2)
    assert.deepEqual((await store.list()).map((r) => r.runId), ['p3'])
    // The id of a pruned run can be used again, with an empty journal.
    await store.createRun(newRun('p1'), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    assert.deepEqual((await store.load('p1'))?.entries, [])
  })

  add('concurrent appends to different runs all land', async ({ store }) => {
    const leases = await Promise.all(Array.from({ length: 8 }, (_, k) => store.createRun(newRun(`c${k}`), { owner: OWNER_A, ttlMs: TTL, now: T0 })))
    await Promise.all(leases.map((lease) => store.append([{ runId: lease.runId, epoch: lease.epoch, entries: entries(1, 50) }])))
    for (const lease of leases) assert.equal((await store.load(lease.runId))?.entries.length, 50)
  })

  add('close is idempotent', async ({ store }) => {
    await store.close()
    await store.close()
  })

  add('what was appended is there after the store is closed and opened again', async (t) => {
    if (t.reopen === undefined) return
    const lease = await t.store.createRun(newRun('durable', { labels: { a: 'b' } }), { owner: OWNER_A, ttlMs: TTL, now: T0 })
    await t.store.append([{ runId: 'durable', epoch: lease.epoch, entries: entries(1, 4) }])
    const again = await t.reopen()
    const run = await again.load('durable')
    assert.equal(run?.entries.length, 4)
    assert.equal(run?.entries[3]?.data, '{"n":4}')
    assert.deepEqual(run?.labels, { a: 'b' })
    assert.equal(run?.lease?.epoch, 1)
    return again
  })

  return cases
}
