/**
 * How a run sits in a `runs` row: labels and counts as JSON text, the lease as three columns
 * (owner NULL once the run is finished: no lease).
 * @module
 */
import type { Lease, RunSummary, StoredRunStatus } from '../../core/store.js'
import { jsonColumn } from '../shared.js'

/** A `runs` row as `SELECT *` returns it. */
export interface RunRow {
  readonly key: number
  readonly run_id: string
  readonly workflow_id: string
  readonly workflow_hash: string
  readonly definition: string
  readonly inputs: string
  readonly settings: string
  readonly labels: string
  readonly status: StoredRunStatus
  readonly created_at: number
  readonly finished_at: number | null
  readonly counts: string
  readonly lease_owner: string | null
  readonly lease_epoch: number
  readonly lease_expires_at: number | null
  /** The checksum of definition, inputs and settings (see checksum.ts); NULL in runs of schema version 1. */
  readonly crc: number | null
}

/** The columns a summary needs: all but the (possibly large) definition, inputs and settings. */
export const SUMMARY_COLUMNS = 'key, run_id, workflow_id, workflow_hash, labels, status, created_at, finished_at, counts, lease_owner, lease_epoch, lease_expires_at'

/** A row as `SELECT ${SUMMARY_COLUMNS}` returns it. */
export type SummaryRow = Omit<RunRow, 'definition' | 'inputs' | 'settings' | 'crc'>

/** The lease a row holds, or undefined once the run is finished. */
export function leaseOf(row: Pick<RunRow, 'run_id' | 'lease_owner' | 'lease_epoch' | 'lease_expires_at'>): Lease | undefined {
  if (row.lease_owner === null) return undefined
  return { runId: row.run_id, owner: row.lease_owner, epoch: row.lease_epoch, expiresAt: row.lease_expires_at ?? 0 }
}

/** The summary of the run a row holds. */
export function summaryOf(row: SummaryRow): RunSummary {
  return {
    runId: row.run_id,
    workflowId: row.workflow_id,
    workflowHash: row.workflow_hash,
    status: row.status,
    createdAt: row.created_at,
    finishedAt: row.finished_at ?? undefined,
    counts: jsonColumn<Record<string, number>>(row.run_id, 'counts', row.counts),
    labels: jsonColumn<Record<string, string>>(row.run_id, 'labels', row.labels),
    lease: leaseOf(row),
  }
}
