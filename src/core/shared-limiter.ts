/**
 * The shared limiter port: places under a cap that several processes take from, each place a
 * lease that expires unless renewed, so a process that dies leaks nothing. Owners of runs in
 * different processes use it for caps that must hold across all of them (a provider's concurrency
 * for the whole deployment, not per owner).
 * @module
 */

/** One place held: `holder` (an attempt id) in `key`. */
export interface SharedPermit {
  readonly key: string
  readonly holder: string
}

/** Places under caps, shared by every process that uses the same backend. */
export interface SharedLimiter {
  /**
   * Takes one of `limit` places of `key` for `holder` for `ttlMs`, unless `limit` are held by
   * others now (expired leases do not count). Taking a place the holder already has renews it.
   * Resolves true when taken.
   */
  tryAcquire(key: string, limit: number, holder: string, ttlMs: number): Promise<boolean>
  /** Gives a place back (a no-op for a place not held). */
  release(key: string, holder: string): Promise<void>
  /** Extends the leases of places still held by `ttlMs` from now; places already expired stay gone. */
  renew(permits: readonly SharedPermit[], ttlMs: number): Promise<void>
  /** How many places of `key` are held now. */
  held(key: string): Promise<number>
  /** Releases the connection (not the places: they expire). */
  close(): Promise<void>
}
