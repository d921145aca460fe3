import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { APPLICATION_ID, migrate, MIGRATIONS, SCHEMA_VERSION } from './migrations.js'

describe('migrations', () => {
  it('are numbered 1, 2, … without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, k) => k + 1))
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length)
  })

  it('bring an empty database to the current schema once; a second run changes nothing', () => {
    const db = new Database(':memory:')
    try {
      expect(migrate(db)).toBe(0)
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION)
      expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID)
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all()
      expect(tables).toEqual(['journal', 'runs'])
      expect(migrate(db)).toBe(SCHEMA_VERSION)
    } finally {
      db.close()
    }
  })

  it('refuse a schema newer than this code knows, changing nothing', () => {
    const db = new Database(':memory:')
    try {
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
      expect(() => migrate(db)).toThrow(/newer than this taskweave knows/)
      expect(db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get()).toBe(0)
    } finally {
      db.close()
    }
  })
})
