/**
 * The run and lease calls of the store (`createRun`, `acquire`, `renew`, `release`), run on the
 * database thread. One connection serves one call at a time, so a read followed by a write in
 * one transaction is never interleaved with another call.
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { Lease, AcquireRequest, LeaseRequest, NewRun, ReopenRequest } from '../../core/store.js'
import { REOPENABLE } from '../shared.js'
import { entryChecksum, runChecksum } from './checksum.js'
import { KIND_CODES } from './journal-codec.js'
import { leaseOf } from './run-codec.js'
import type { Statements } from './statements.js'

/** Records a new run with its first lease (epoch 1); `TW_STORE_CONFLICT` when the id exists. */
export function createRun(sql: Statements, run: NewRun, request: LeaseRequest): Lease {
  const expiresAt = request.now + request.ttlMs
  const { changes } = sql.insertRun.run(run.runId, run.workflowId, run.workflowHash, run.definition, run.inputs, run.settings, JSON.stringify(run.labels ?? {}), run.createdAt, request.owner, expiresAt, runChecksum(run.definition, run.inputs, run.settings))
  if (changes === 0) throw new TaskweaveError('TW_STORE_CONFLICT', `run "${run.runId}" already exists in the store`, { retryable: false, details: { runId: run.runId } })
  return { runId: run.runId, owner: request.owner, epoch: 1, expiresAt }
}

/**
 * Takes the lease of an unfinished run when it is free (expired, released, already the caller's)
 * or, with `takeOver`, held by an owner not in `liveOwners`: the store is exclusive (one process
 * owns the file), so a lease another owner holds is a dead process's, or another engine's in
 * this process (those the caller names).
 */
export function acquire(sql: Statements, runId: string, request: AcquireRequest): Lease | undefined {
  return sql.transaction(() => {
    const row = sql.runById.get(runId)
    if (row === undefined) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store`, { retryable: false, details: { runId } })
    if (row.status !== 'running') return undefined
    const held = leaseOf(row)
    const free = held === undefined || held.expiresAt <= request.now || held.owner === request.owner || (request.takeOver === true && request.liveOwners?.includes(held.owner) !== true)
    if (!free) return undefined
    const lease: Lease = { runId, owner: request.owner, epoch: row.lease_epoch + 1, expiresAt: request.now + request.ttlMs }
    sql.setLease.run(lease.owner, lease.epoch, lease.expiresAt, row.key)
    return lease
  })
}

/**
 * Reopens a run that ended failed, partial or cancelled (see `RunStore.reopen`): running again
 * under a new lease, with a `reopen` entry after its journal, in one transaction. `wrote` hears
 * the run and the entry's seq (the newest commit's place, see commit-mark.ts).
 */
export function reopen(sql: Statements, runId: string, request: ReopenRequest, wrote: (key: number, seq: number) => void): Lease | undefined {
  return sql.transaction(() => {
    const row = sql.runById.get(runId)
    if (row === undefined) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store`, { retryable: false, details: { runId } })
    if (!REOPENABLE.has(row.status)) return undefined
    const last = sql.lastSeq.get(row.key) ?? 0
    if (request.afterSeq !== undefined && last !== request.afterSeq) return undefined
    const lease: Lease = { runId, owner: request.owner, epoch: row.lease_epoch + 1, expiresAt: request.now + request.ttlMs }
    sql.reopenRun.run(lease.owner, lease.epoch, lease.expiresAt, row.key)
    const seq = last + 1
    const kind = KIND_CODES.reopen
    sql.insertEntry.run([row.key, seq, kind, null, null, request.entry.at, request.entry.data, null, entryChecksum(seq, kind, null, null, request.entry.at, request.entry.data, null)])
    wrote(row.key, seq)
    return lease
  })
}

/** Extends the leases still the caller's (same owner and epoch, run unfinished); returns the others' run ids. */
export function renew(sql: Statements, leases: readonly Lease[], now: number, ttlMs: number): readonly string[] {
  return sql.transaction(() => {
    const lost: string[] = []
    for (const lease of leases) {
      if (sql.renewLease.run(now + ttlMs, lease.runId, lease.epoch, lease.owner).changes === 0) lost.push(lease.runId)
    }
    return lost
  })
}

/** Ends the leases still the caller's without finishing their runs; others are ignored. */
export function release(sql: Statements, leases: readonly Lease[]): void {
  sql.transaction(() => {
    for (const lease of leases) sql.releaseLease.run(lease.runId, lease.epoch, lease.owner)
  })
}
