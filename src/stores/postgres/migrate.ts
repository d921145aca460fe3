/**
 * Brings the store's schema up to date on open. Everything happens in one transaction that first
 * takes a transaction-scoped advisory lock keyed by the schema name, so processes opening the same
 * store at once take turns (the second finds the work done) while stores in other schemas do not
 * wait; a failure leaves the schema as it was.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { PostgresConnection } from './connection.js'
import { MIGRATIONS } from './migrations.js'

/** Applies the migrations the schema lacks; throws `TW_STORE` for a schema a newer taskweave migrated. */
export async function migrate(db: PostgresConnection, schemaName: string): Promise<void> {
  const t = db.tables
  await db.transaction('open', async (tx) => {
    await tx.rows('SELECT pg_advisory_xact_lock(hashtext($1))', [`taskweave.migrate:${schemaName}`])
    // Under the lock each statement sees what an earlier opener committed, so IF NOT EXISTS never races.
    await tx.rows(`CREATE SCHEMA IF NOT EXISTS ${t.schema}`)
    await tx.rows(`CREATE TABLE IF NOT EXISTS ${t.migrations} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const applied = new Set((await tx.rows<{ version: number }>(`SELECT version FROM ${t.migrations}`)).map((row) => row.version))
    const newest = Math.max(0, ...applied)
    const known = MIGRATIONS.length === 0 ? 0 : (MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0)
    if (newest > known) {
      throw new TaskweaveError('TW_STORE', `PostgreSQL store ${db.location}: schema ${t.schema} is at version ${newest}, newer than this taskweave knows (${known}); upgrade taskweave`, {
        retryable: false,
        details: { location: db.location, schema: schemaName, version: newest, known },
      })
    }
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue
      await tx.rows(migration.sql(t))
      await tx.rows(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [migration.version, migration.name])
    }
  })
}
