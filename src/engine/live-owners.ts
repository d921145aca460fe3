/**
 * The owners of engines alive in this process, per store object. An exclusive store (one process
 * owns the SQLite file) lets a resume take a lease another owner still holds, since that owner
 * can only be a process that died: unless it is another engine of this process sharing the store,
 * which these name.
 * @module
 */
import type { AcquireRequest, RunStore } from '../core/store.js'

const ownersByStore = new WeakMap<RunStore, Set<string>>()

/** Records `owner` as alive on `store`; the returned function forgets it (the engine closed). */
export function holdOwner(store: RunStore, owner: string): () => void {
  let owners = ownersByStore.get(store)
  if (owners === undefined) ownersByStore.set(store, (owners = new Set()))
  owners.add(owner)
  return () => void owners.delete(owner)
}

/** The owners alive on `store` in this process other than `owner`, or undefined when there are none. */
export function otherLiveOwners(store: RunStore, owner: string): readonly string[] | undefined {
  const owners = ownersByStore.get(store)
  if (owners === undefined) return undefined
  const others = [...owners].filter((other) => other !== owner)
  return others.length > 0 ? others : undefined
}

/**
 * The lease request of a resume by `owner`: on an exclusive store it takes over a lease another
 * owner holds, unless that owner is an engine alive in this process.
 */
export function resumeLeaseRequest(store: RunStore, owner: string, ttlMs: number, now: number): AcquireRequest {
  const liveOwners = store.exclusive ? otherLiveOwners(store, owner) : undefined
  return { owner, ttlMs, now, takeOver: store.exclusive, ...(liveOwners !== undefined ? { liveOwners } : {}) }
}
