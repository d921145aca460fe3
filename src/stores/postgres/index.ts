/**
 * `taskweave/stores/postgres`: the run store in PostgreSQL, for engines on several machines or
 * processes that share runs. Needs the `pg` package (an optional peer dependency), which only this
 * entry point loads.
 * @module
 */
export { openPostgresStore } from './open.js'
export { PostgresRunStore } from './store.js'
export type { PostgresStoreOptions } from './options.js'
