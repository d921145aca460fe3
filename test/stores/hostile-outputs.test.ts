/**
 * Hostile values in task outputs (RELIABILITY IN-07) on every store: each value either becomes
 * the documented plain data (JSON semantics) or fails its task with `TW_OUTPUT_NOT_SERIALIZABLE`,
 * the same way in memory, on SQLite and on PostgreSQL; the run never hangs, and what the journal
 * keeps reads back as exactly the output the run reported.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import type { RunStore } from 'taskweave/ports'
import { openPostgresStore } from 'taskweave/stores/postgres'
import { openSqliteStore } from 'taskweave/stores/sqlite'

const URL = process.env['TASKWEAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test'
const SCHEMA = `tw_hostile_${randomBytes(4).toString('hex')}`
const dir = mkdtempSync(join(tmpdir(), 'tw-hostile-'))

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const client = new pg.Client({ connectionString: URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(SCHEMA)} CASCADE`)
  await client.end()
})

const circular: Record<string, unknown> = { a: 1 }
circular['self'] = circular

/** Each hostile output, and what the run reports for it: the plain data, or the error code. */
const CASES: Record<string, { readonly make: () => unknown; readonly becomes: unknown } | { readonly make: () => unknown; readonly fails: string }> = {
  nul: { make: () => 'a\u0000b', becomes: 'a\u0000b' },
  loneHigh: { make: () => 'x\ud800y', becomes: 'x\ud800y' },
  loneLow: { make: () => ({ '\udc00': '\udc00' }), becomes: { '\udc00': '\udc00' } },
  nulKey: { make: () => ({ 'k\u0000': 1 }), becomes: { 'k\u0000': 1 } },
  astral: { make: () => '𝒳🧵', becomes: '𝒳🧵' },
  beyond2pow53: { make: () => [2 ** 60, Number.MAX_SAFE_INTEGER + 2], becomes: [2 ** 60, Number.MAX_SAFE_INTEGER + 2] },
  nan: { make: () => NaN, becomes: null },
  infinities: { make: () => ({ v: Infinity, w: [-Infinity] }), becomes: { v: null, w: [null] } },
  negativeZero: { make: () => -0, becomes: 0 },
  date: { make: () => ({ at: new Date(0) }), becomes: { at: '1970-01-01T00:00:00.000Z' } },
  buffer: { make: () => Buffer.from('hi'), becomes: { type: 'Buffer', data: [104, 105] } },
  undefinedFields: { make: () => ({ a: undefined, b: [undefined, 1] }), becomes: { b: [null, 1] } },
  functionsAndSymbolsInside: { make: () => ({ f: () => 1, s: Symbol('s'), a: [Symbol('t'), () => 2] }), becomes: { a: [null, null] } },
  mapAndSet: { make: () => ({ m: new Map([[1, 2]]), s: new Set([1]) }), becomes: { m: {}, s: {} } },
  bigint: { make: () => 10n, fails: 'TW_OUTPUT_NOT_SERIALIZABLE' },
  nestedBigint: { make: () => ({ n: [10n] }), fails: 'TW_OUTPUT_NOT_SERIALIZABLE' },
  circular: { make: () => circular, fails: 'TW_OUTPUT_NOT_SERIALIZABLE' },
  symbol: { make: () => Symbol('s'), fails: 'TW_OUTPUT_NOT_SERIALIZABLE' },
}

const emit = defineTool({ name: 'emit', input: z.object({ name: z.string() }), run: ({ name }) => (CASES[name] as { make: () => unknown }).make() })

const STORES: readonly (readonly [string, () => Promise<RunStore | undefined>])[] = [
  ['memory (no store)', async () => undefined],
  ['SQLite', () => openSqliteStore({ path: join(dir, 'hostile.db') })],
  ['PostgreSQL', () => openPostgresStore({ connectionString: URL, schema: SCHEMA })],
]

describe('hostile values in task outputs (IN-07)', () => {
  it.each(STORES)('%s: each becomes its documented plain data or fails its task; the stored output reads back as reported', async (_name, open) => {
    const store = await open()
    const engine = createEngine({ tools: [emit], builtins: false, ...(store !== undefined ? { store } : {}) })
    try {
      const tasks = Object.keys(CASES).map((name) => ({ id: name, tool: 'emit', input: { name } }))
      const result = await engine.run({ id: 'hostile', tasks }, { failFast: false, signal: AbortSignal.timeout(10_000) })
      expect(result.status).toBe('partial')
      for (const [name, expected] of Object.entries(CASES)) {
        const task = result.tasks[name]
        if ('fails' in expected) {
          expect(task?.status, name).toBe('failed')
          expect(task?.error, name).toMatchObject({ code: expected.fails, details: { taskId: name } })
        } else {
          expect(task?.status, name).toBe('succeeded')
          expect(task?.output, name).toStrictEqual(expected.becomes)
        }
      }
      if (store === undefined) return
      const stored = await store.load(result.runId)
      expect(stored?.status).toBe('partial')
      const outputs = new Map((stored?.entries ?? []).filter((e) => e.kind === 'ok').map((e) => [e.taskId, e.data === undefined ? undefined : JSON.parse(e.data) as unknown]))
      for (const [name, expected] of Object.entries(CASES)) if (!('fails' in expected)) expect(outputs.get(name), name).toStrictEqual(expected.becomes)
    } finally {
      await engine.close()
      await store?.close()
    }
  })
})
