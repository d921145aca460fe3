/**
 * The SQLite run store: durable runs in one file, owned by one process. Import from
 * `taskweave/stores/sqlite`; this is the only entry that loads the `better-sqlite3` driver, and it
 * loads it on the store's own thread.
 * @module
 */
export { openSqliteStore } from './open.js'
export { SqliteRunStore } from './store.js'
export type { SqliteStoreOptions } from './options.js'
export { MIN_SQLITE_VERSION } from './version.js'
