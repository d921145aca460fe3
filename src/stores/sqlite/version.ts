/**
 * The oldest SQLite the store accepts. 3.51.3 fixes a bug in the reset of the WAL that can corrupt
 * a database (the reliability contract sets SQLite ≥ 3.51.3 among the SQLite defaults); a store
 * opened with an older library is refused at open rather than trusted with the runs.
 * @module
 */

/** The oldest SQLite version the store opens a file with. */
export const MIN_SQLITE_VERSION = '3.51.3'

/** Compares dotted versions numerically (`3.9.0` < `3.10.0`); a missing part counts as 0. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number)
  const right = b.split('.').map(Number)
  for (let k = 0; k < Math.max(left.length, right.length); k++) {
    const diff = (left[k] ?? 0) - (right[k] ?? 0)
    if (Number.isNaN(diff)) throw new RangeError(`not a dotted version: "${a}" or "${b}"`)
    if (diff !== 0) return Math.sign(diff)
  }
  return 0
}

/** Whether SQLite `version` is new enough for the store. */
export function isSupportedSqlite(version: string): boolean {
  return compareVersions(version, MIN_SQLITE_VERSION) >= 0
}
