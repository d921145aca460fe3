/**
 * Creates a store's file atomically: the schema is built in a temporary file beside it, which is
 * then hard-linked to the final name (the link fails if the name exists, so two creators cannot
 * overwrite each other) and the directory is synced. The final path therefore either does not
 * exist or holds a complete, migrated database; the store never lets SQLite create a file at the
 * final path, so an empty or damaged file found there is never mistaken for a new one and
 * "initialised" over (it is refused as corrupt instead).
 *
 * A crash during creation can leave a `<file>.<pid>-<thread>-<hex>.creating` file beside the
 * store: it never held runs, and may be deleted.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { threadId } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { errorCodeOf } from './errors.js'
import { migrate } from './migrations.js'

/** Creates a migrated database at `file` unless a file is there already (made by someone else meanwhile). */
export function createDatabaseFile(file: string): void {
  const temp = `${file}.${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.creating`
  try {
    const db = new Database(temp)
    try {
      db.pragma('synchronous = FULL')
      migrate(db)
      // WAL is recorded in the file's header, so every later open finds the file in WAL mode.
      db.pragma('journal_mode = WAL')
    } finally {
      // Closing checkpoints the WAL into the file (synced) and removes the WAL.
      db.close()
    }
    publish(temp, file)
    syncDirectory(dirname(file))
  } finally {
    rmSync(temp, { force: true })
    rmSync(`${temp}-wal`, { force: true })
    rmSync(`${temp}-journal`, { force: true })
  }
}

/** Gives `temp` the name `file` unless `file` exists; the first creator wins, the others use its file. */
function publish(temp: string, file: string): void {
  try {
    linkSync(temp, file)
  } catch (err) {
    if (errorCodeOf(err) === 'EEXIST') return
    // A file system without hard links: a rename, which would replace a file created in the
    // instant since the check, so it is done only if the name is still free.
    if (existsSync(file)) return
    renameSync(temp, file)
  }
}

/** Makes the new directory entry durable (a crash after this keeps the file under its name). */
function syncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some platforms (Windows) cannot open a directory; the entry is then as durable as they make it.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
