/**
 * A {@link RunStore} in this process's memory: the reference adapter of the conformance suite,
 * and the store of tests and of engines that want resumable runs within one process's life
 * (nothing survives the process).
 * @module
 */
import { InvalidOptionError, TaskweaveError } from '../core/errors.js'
import { refuseUnknownOptions } from '../core/known-options.js'
import { checkPruneOptions, checkRunFilter } from '../core/store.js'
import type { AppendResult, JournalBatch, JournalEntry, Lease, AcquireRequest, LeaseRequest, NewRun, PruneOptions, ReopenRequest, RunFilter, RunStore, RunSummary, StoredRun, StoredRunStatus } from '../core/store.js'
import { finishOf, hasLabels, REOPENABLE, statusMatches } from './shared.js'

interface MemoryRun {
  readonly run: NewRun
  status: StoredRunStatus
  finishedAt: number | undefined
  counts: Readonly<Record<string, number>>
  lease: Lease | undefined
  /** The epoch of the last lease, kept once the run finished (a reopen moves past it). */
  lastEpoch: number
  readonly entries: JournalEntry[]
}

/** Options of {@link MemoryRunStore}. */
export interface MemoryRunStoreOptions {
  /** Treat the store as owned by one process (see {@link RunStore.exclusive}). @default true */
  readonly exclusive?: boolean
}

/** A run store in memory. Every method resolves on a later microtask, as a real store would. */
export class MemoryRunStore implements RunStore {
  readonly kind = 'memory'
  readonly location = 'memory'
  readonly exclusive: boolean
  readonly #runs = new Map<string, MemoryRun>()
  #closed = false

  constructor(options: MemoryRunStoreOptions = {}) {
    refuseUnknownOptions('MemoryRunStore', options, ['exclusive'])
    if (options.exclusive !== undefined && typeof options.exclusive !== 'boolean') throw new InvalidOptionError('exclusive', 'true or false', options.exclusive)
    this.exclusive = options.exclusive ?? true
  }

  async createRun(run: NewRun, request: LeaseRequest): Promise<Lease> {
    this.#open()
    if (this.#runs.has(run.runId)) throw new TaskweaveError('TW_STORE_CONFLICT', `run "${run.runId}" already exists in the store`, { retryable: false, details: { runId: run.runId } })
    const lease: Lease = { runId: run.runId, owner: request.owner, epoch: 1, expiresAt: request.now + request.ttlMs }
    this.#runs.set(run.runId, { run: { ...run, labels: { ...run.labels } }, status: 'running', finishedAt: undefined, counts: {}, lease, lastEpoch: 1, entries: [] })
    return lease
  }

  async acquire(runId: string, request: AcquireRequest): Promise<Lease | undefined> {
    this.#open()
    const record = this.#runs.get(runId)
    if (record === undefined) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store`, { retryable: false, details: { runId } })
    if (record.status !== 'running') return undefined
    const held = record.lease
    const free = held === undefined || held.expiresAt <= request.now || held.owner === request.owner || (request.takeOver === true && this.exclusive && request.liveOwners?.includes(held.owner) !== true)
    if (!free) return undefined
    const epoch = (held?.epoch ?? 1) + 1
    record.lease = { runId, owner: request.owner, epoch, expiresAt: request.now + request.ttlMs }
    return record.lease
  }

  async reopen(runId: string, request: ReopenRequest): Promise<Lease | undefined> {
    this.#open()
    const record = this.#runs.get(runId)
    if (record === undefined) throw new TaskweaveError('TW_STORE_NOT_FOUND', `no run "${runId}" in the store`, { retryable: false, details: { runId } })
    if (!REOPENABLE.has(record.status)) return undefined
    if (request.afterSeq !== undefined && record.entries.length !== request.afterSeq) return undefined
    record.status = 'running'
    record.finishedAt = undefined
    record.counts = {}
    record.lease = { runId, owner: request.owner, epoch: (record.lease?.epoch ?? record.lastEpoch) + 1, expiresAt: request.now + request.ttlMs }
    record.entries.push({ seq: record.entries.length + 1, kind: 'reopen', at: request.entry.at, data: request.entry.data })
    return record.lease
  }

  async renew(leases: readonly Lease[], now: number, ttlMs: number): Promise<readonly string[]> {
    this.#open()
    const lost: string[] = []
    for (const lease of leases) {
      const record = this.#runs.get(lease.runId)
      const current = record?.lease
      if (record === undefined || record.status !== 'running' || current === undefined || current.epoch !== lease.epoch || current.owner !== lease.owner) {
        lost.push(lease.runId)
        continue
      }
      record.lease = { ...current, expiresAt: now + ttlMs }
    }
    return lost
  }

  async release(leases: readonly Lease[]): Promise<void> {
    this.#open()
    for (const lease of leases) {
      const record = this.#runs.get(lease.runId)
      const current = record?.lease
      if (record === undefined || current === undefined || current.epoch !== lease.epoch || current.owner !== lease.owner) continue
      // The epoch stays: the next owner's acquire moves past it.
      record.lease = { ...current, expiresAt: 0 }
    }
  }

  async append(batches: readonly JournalBatch[]): Promise<AppendResult> {
    this.#open()
    const fenced: string[] = []
    const accepted: JournalBatch[] = []
    // Checked in full first, so a bad batch leaves every run as it was (one transaction).
    const nextSeq = new Map<string, number>()
    for (const batch of batches) {
      const record = this.#runs.get(batch.runId)
      if (record === undefined || record.status !== 'running' || record.lease?.epoch !== batch.epoch) {
        fenced.push(batch.runId)
        continue
      }
      let next = nextSeq.get(batch.runId) ?? record.entries.length + 1
      for (const entry of batch.entries) {
        if (entry.seq !== next) throw new TaskweaveError('TW_STORE', `journal of run "${batch.runId}": entry ${entry.seq} appended where ${next} was due`, { retryable: false, details: { runId: batch.runId } })
        next++
      }
      nextSeq.set(batch.runId, next)
      accepted.push(batch)
    }
    for (const batch of accepted) {
      const record = this.#runs.get(batch.runId) as MemoryRun
      for (const entry of batch.entries) {
        record.entries.push({ ...entry })
        if (entry.kind === 'finish') {
          const finish = finishOf(entry)
          record.status = finish.status
          record.counts = finish.counts
          record.finishedAt = entry.at
          record.lastEpoch = record.lease?.epoch ?? record.lastEpoch
          record.lease = undefined
        }
      }
    }
    return { fenced }
  }

  async load(runId: string): Promise<StoredRun | undefined> {
    this.#open()
    const record = this.#runs.get(runId)
    if (record === undefined) return undefined
    return { ...summaryOf(record), definition: record.run.definition, inputs: record.run.inputs, settings: record.run.settings, entries: record.entries.map((entry) => ({ ...entry })) }
  }

  async list(filter: RunFilter = {}): Promise<readonly RunSummary[]> {
    this.#open()
    checkRunFilter(filter)
    const found: RunSummary[] = []
    for (const record of this.#runs.values()) {
      if (!statusMatches(record.status, filter.status)) continue
      if (filter.workflowId !== undefined && record.run.workflowId !== filter.workflowId) continue
      if (filter.since !== undefined && record.run.createdAt < filter.since) continue
      if (!hasLabels(record.run.labels ?? {}, filter.labels)) continue
      found.push(summaryOf(record))
    }
    // Newest first; the same creation time keeps insertion order reversed.
    found.reverse().sort((a, b) => b.createdAt - a.createdAt)
    return found.slice(0, filter.limit ?? 100)
  }

  async prune(options: PruneOptions): Promise<number> {
    this.#open()
    checkPruneOptions(options)
    let removed = 0
    for (const [runId, record] of this.#runs) {
      if (record.finishedAt === undefined || record.finishedAt >= options.finishedBefore) continue
      if (!hasLabels(record.run.labels ?? {}, options.labels)) continue
      this.#runs.delete(runId)
      removed++
    }
    return removed
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #open(): void {
    if (this.#closed) throw new TaskweaveError('TW_STORE', 'the memory store is closed', { retryable: false })
  }
}

function summaryOf(record: MemoryRun): RunSummary {
  const { run } = record
  return {
    runId: run.runId,
    workflowId: run.workflowId,
    workflowHash: run.workflowHash,
    status: record.status,
    createdAt: run.createdAt,
    finishedAt: record.finishedAt,
    counts: record.counts,
    labels: { ...run.labels },
    lease: record.lease,
  }
}
