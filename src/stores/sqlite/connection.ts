/**
 * Opens the store's one connection, on the database thread, and makes it the file's only user:
 *
 * 1. A missing file is created complete (`create.ts`); an existing one is never recreated.
 * 2. The SQLite library must be ≥ {@link MIN_SQLITE_VERSION}.
 * 3. `locking_mode=EXCLUSIVE` is set before the file is first read, so SQLite keeps the WAL index
 *    in this connection's memory (no `-shm` file) and never gives back a file lock it takes.
 * 4. The first read checks the file: SQLite refuses garbage (`SQLITE_NOTADB`) and a file shorter
 *    than its header says (`SQLITE_CORRUPT`); an empty file (0 bytes) is refused here. Then the
 *    file must be a taskweave store (`application_id`), so another program's database is left
 *    alone. Nothing is written before these checks pass, and the connection is closed when one
 *    fails, so a damaged or foreign file is left exactly as it was found.
 * 5. `journal_mode=WAL`, then an empty `BEGIN EXCLUSIVE` takes the exclusive lock now rather than
 *    at the first write, so a second process fails at its open (`SQLITE_BUSY` once `busy_timeout`
 *    has passed; 0 by default: at once) instead of at some later write.
 * 6. `synchronous=FULL`: in WAL mode, NORMAL may lose the last commits on a power cut; FULL syncs
 *    the WAL at every commit, so an append that resolved survives one.
 * 7. Missing migrations are applied; a schema newer than this code is refused.
 *
 * Nothing in this process opens the file except SQLite, which tracks POSIX locks per process:
 * opening and closing the file any other way (say, to read its header) would silently drop the
 * lock another store in this process holds on it. Only `stat` is used, which opens nothing.
 * @module
 */
import { statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { createDatabaseFile } from './create.js'
import { corruptFileError, errorCodeOf, storeError, toStoreError } from './errors.js'
import { APPLICATION_ID, migrate, SCHEMA_VERSION } from './migrations.js'
import type { ThreadData } from './protocol.js'
import { isSupportedSqlite, MIN_SQLITE_VERSION } from './version.js'

/** A WAL larger than this is cut back after a checkpoint (one huge append need not keep its space). */
const JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

/** An open, locked, migrated connection. */
export interface OpenedConnection {
  readonly db: Database.Database
  readonly sqliteVersion: string
  readonly schemaVersion: number
}

/** Opens `data.file` as described above; throws `TW_STORE` naming `data.location`. */
export function openConnection(data: ThreadData): OpenedConnection {
  const { file, location } = data
  try {
    if (!exists(file)) createDatabaseFile(file)
  } catch (err) {
    throw toStoreError(location, err)
  }
  let db: Database.Database
  try {
    db = new Database(file, { fileMustExist: true, timeout: data.busyTimeoutMs })
  } catch (err) {
    throw toStoreError(location, err)
  }
  try {
    return configure(db, data)
  } catch (err) {
    closeQuietly(db)
    throw toStoreError(location, err)
  }
}

function configure(db: Database.Database, { file, location, busyTimeoutMs }: ThreadData): OpenedConnection {
  const sqliteVersion = db.prepare('SELECT sqlite_version()').pluck().get() as string
  if (!isSupportedSqlite(sqliteVersion)) {
    throw storeError(location, `SQLite ${sqliteVersion} is too old: the store needs SQLite ${MIN_SQLITE_VERSION} or later (its WAL-reset fix); update better-sqlite3`, { retryable: false })
  }
  db.pragma('locking_mode = EXCLUSIVE')
  db.pragma(`busy_timeout = ${busyTimeoutMs}`)
  // The first read: takes the shared lock (held from now on) and checks the file's header and size.
  db.prepare('SELECT count(*) FROM sqlite_schema').get()
  if ((db.pragma('page_count', { simple: true }) as number) === 0) {
    throw corruptFileError(location, `the file is empty (${sizeOf(file)} bytes); truncated?`)
  }
  // Before anything is written: a database of some other program is left as it is.
  const applicationId = db.pragma('application_id', { simple: true }) as number
  if (applicationId !== APPLICATION_ID) {
    throw storeError(location, `the file is a SQLite database but not a taskweave run store (application_id ${applicationId}); the store does not change it: give the store another path`, { retryable: false })
  }
  const mode = db.pragma('journal_mode = WAL', { simple: true }) as string
  if (mode !== 'wal') throw storeError(location, `SQLite refused WAL mode (journal_mode stays ${mode})`, { retryable: false })
  db.exec('BEGIN EXCLUSIVE; COMMIT')
  db.pragma('synchronous = FULL')
  db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`)
  migrate(db)
  return { db, sqliteVersion, schemaVersion: SCHEMA_VERSION }
}

/** Whether `file` exists (a stat: no file descriptor is opened, see the module's note on locks). */
function exists(file: string): boolean {
  try {
    statSync(file)
    return true
  } catch (err) {
    if (errorCodeOf(err) === 'ENOENT') return false
    throw err
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

/** Closes a connection that failed to open; its own error would hide the one that matters. */
function closeQuietly(db: Database.Database): void {
  try {
    db.close()
  } catch {
    // Nothing to add to the error being thrown.
  }
}
