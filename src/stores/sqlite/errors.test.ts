import { describe, expect, it } from 'vitest'
import { TaskweaveError } from '../../core/errors.js'
import { RESTORE_ADVICE, toStoreError } from './errors.js'

const PATH = './.taskweave/runs.db'

/** An error shaped as better-sqlite3's SqliteError (a message and a code). */
function sqliteError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

describe('toStoreError', () => {
  it('says what a corrupt file needs: restore, not delete', () => {
    for (const code of ['SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX', 'SQLITE_NOTADB']) {
      const err = toStoreError(PATH, sqliteError(code, 'file is not a database'))
      expect(err).toMatchObject({ code: 'TW_STORE', retryable: false, details: { path: PATH, sqliteCode: code } })
      expect(err.message).toBe(`SQLite store ${PATH}: the file is not a valid SQLite database or is corrupt (${code}: file is not a database): ${RESTORE_ADVICE}`)
    }
  })

  it('a full disk is retryable and says so', () => {
    for (const code of ['SQLITE_FULL', 'ENOSPC']) {
      const err = toStoreError(PATH, sqliteError(code, 'database or disk is full'))
      expect(err).toMatchObject({ code: 'TW_STORE', retryable: true })
      expect(err.message).toMatch(new RegExp(`^SQLite store \\./\\.taskweave/runs\\.db: disk full \\(${code}\\)`))
    }
  })

  it('a busy or locked file means another process holds it', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED']) {
      expect(toStoreError(PATH, sqliteError(code, 'database is locked')).message).toContain(`SQLite store ${PATH}: another process holds the file`)
    }
  })

  it('I/O and permission errors name their code; anything else is TW_STORE too', () => {
    expect(toStoreError(PATH, sqliteError('SQLITE_IOERR_FSYNC', 'disk I/O error')).message).toContain('I/O error (SQLITE_IOERR_FSYNC: disk I/O error)')
    expect(toStoreError(PATH, sqliteError('SQLITE_READONLY', 'attempt to write a readonly database'))).toMatchObject({ retryable: false, message: expect.stringContaining('cannot open or write the file') as string })
    expect(toStoreError(PATH, new TypeError('boom'))).toMatchObject({ code: 'TW_STORE', message: `SQLite store ${PATH}: boom` })
    expect(toStoreError(PATH, 'a string')).toMatchObject({ code: 'TW_STORE', message: `SQLite store ${PATH}: a string` })
  })

  it('passes other taskweave errors through, and names the file in a TW_STORE one once', () => {
    const notFound = new TaskweaveError('TW_STORE_NOT_FOUND', 'no run "x" in the store')
    expect(toStoreError(PATH, notFound)).toBe(notFound)
    const gap = toStoreError(PATH, new TaskweaveError('TW_STORE', 'journal of run "r": entry 4 appended where 3 was due', { retryable: false, details: { runId: 'r' } }))
    expect(gap).toMatchObject({ message: `SQLite store ${PATH}: journal of run "r": entry 4 appended where 3 was due`, retryable: false, details: { runId: 'r', path: PATH } })
    expect(toStoreError(PATH, gap)).toBe(gap)
  })
})
