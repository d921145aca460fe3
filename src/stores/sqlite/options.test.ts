import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { SqliteStoreOptions } from './options.js'
import { resolveSqliteStoreOptions } from './options.js'

describe('SQLite store options', () => {
  it('keeps the path as given for messages and opens its absolute form; fails fast by default', () => {
    expect(resolveSqliteStoreOptions({ path: './.taskweave/runs.db' })).toEqual({ location: './.taskweave/runs.db', file: resolve('./.taskweave/runs.db'), busyTimeoutMs: 0, signal: undefined })
    expect(resolveSqliteStoreOptions({ path: '/x/runs.db', busyTimeoutMs: 250 }).busyTimeoutMs).toBe(250)
  })

  it('names the option and the value it refuses', () => {
    const bad: [unknown, RegExp][] = [
      [{ path: '' }, /option "path" must be a file path; received ""/],
      [{ path: 42 }, /option "path" must be a file path; received 42/],
      [{ path: ':memory:' }, /MemoryRunStore/],
      [{ path: 'file:runs.db' }, /option "path"/],
      [{ path: 'a.db', busyTimeoutMs: -1 }, /option "busyTimeoutMs" must be an integer number of milliseconds/],
      [{ path: 'a.db', busyTimeoutMs: 2 ** 31 }, /option "busyTimeoutMs"/],
      [{ path: 'a.db', signal: {} }, /option "signal" must be an AbortSignal/],
      [null, /option "options"/],
    ]
    for (const [options, message] of bad) {
      expect(() => resolveSqliteStoreOptions(options as SqliteStoreOptions)).toThrow(message)
    }
  })
})
