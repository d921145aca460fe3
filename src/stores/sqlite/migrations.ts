/**
 * The schema, as numbered migrations driven by SQLite's `user_version`: a file at version N gets
 * migrations N+1… in order, each in its own transaction with the version bump, so a crash leaves
 * the file at a whole version. Migrations are append-only: a released one is never edited.
 *
 * `runs` holds one row per run; its INTEGER PRIMARY KEY (`key`, the rowid) is the run's key in
 * the journal, so a journal row carries a small integer instead of the run id text. `journal` is
 * keyed (run, seq) WITHOUT ROWID: the rows are stored in the primary key's b-tree itself, in
 * (run, seq) order, which is both the order a resume reads them and the cheapest layout (no
 * second index, no rowid). With entries appended in seq order, leaf pages fill completely.
 *
 * Columns are declared with type affinity but the tables are not STRICT: times are the caller's
 * numbers (a manual clock may hand in fractions), which INTEGER affinity keeps exactly (as REAL)
 * where a STRICT table would refuse them. There are no foreign keys: `append` checks each run
 * (its epoch) in the same transaction before writing, and a foreign key would cost a lookup in
 * `runs` for every journal row.
 * @module
 */
import type { Database } from 'better-sqlite3'
import { TaskweaveError } from '../../core/errors.js'

/** Marks a file as a taskweave run store (`PRAGMA application_id`, the header's bytes 68–71): "TWRS". */
export const APPLICATION_ID = 0x54575253

/** One step of the schema. */
export interface Migration {
  /** The `user_version` the file has once this step is applied (1, 2, …, without gaps). */
  readonly version: number
  /** What the step does, for messages. */
  readonly name: string
  /** The statements, run in one transaction. */
  readonly sql: string
}

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs and journal',
    sql: `
      CREATE TABLE runs (
        key INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        workflow_id TEXT NOT NULL,
        workflow_hash TEXT NOT NULL,
        definition TEXT NOT NULL,
        inputs TEXT NOT NULL,
        settings TEXT NOT NULL,
        labels TEXT NOT NULL,          -- JSON object of text labels
        status TEXT NOT NULL,          -- running | succeeded | partial | failed | cancelled
        created_at INTEGER NOT NULL,
        finished_at INTEGER,           -- the finish entry's time; NULL while running
        counts TEXT NOT NULL,          -- JSON object: task counts by status from the finish entry
        lease_owner TEXT,              -- NULL once finished (no lease)
        lease_epoch INTEGER NOT NULL,  -- kept when the lease ends, so the next owner moves past it
        lease_expires_at INTEGER
      );
      -- list(): newest first (ties: the later insert first, through the rowid in the index).
      CREATE INDEX runs_by_created ON runs (created_at);
      -- prune(): finished runs by age.
      CREATE INDEX runs_by_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
      CREATE TABLE journal (
        run INTEGER NOT NULL,          -- runs.key
        seq INTEGER NOT NULL,
        kind INTEGER NOT NULL,         -- see KIND_CODES in journal-codec.ts; never renumbered
        task_id TEXT,
        attempt INTEGER,
        at INTEGER NOT NULL,
        data TEXT,
        added TEXT,
        PRIMARY KEY (run, seq)
      ) WITHOUT ROWID;
      PRAGMA application_id = ${APPLICATION_ID};
    `,
  },
  {
    version: 2,
    name: 'checksums',
    // NULL in the rows written before: they are read without a check (see checksum.ts).
    sql: `
      ALTER TABLE journal ADD COLUMN crc INTEGER;
      ALTER TABLE runs ADD COLUMN crc INTEGER;
    `,
  },
]

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the file's schema to {@link SCHEMA_VERSION}; returns the version it had. Refuses a file
 * from a newer taskweave (its schema may mean things this code would break).
 */
export function migrate(db: Database): number {
  const from = db.pragma('user_version', { simple: true }) as number
  if (from > SCHEMA_VERSION) {
    throw new TaskweaveError('TW_STORE', `the file has schema version ${from}, newer than this taskweave knows (${SCHEMA_VERSION}): open it with the taskweave that wrote it, or a newer one`, { retryable: false })
  }
  for (const step of MIGRATIONS) {
    if (step.version <= from) continue
    db.transaction(() => {
      db.exec(step.sql)
      db.pragma(`user_version = ${step.version}`)
    })()
  }
  return from
}
