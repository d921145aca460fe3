/**
 * Checksums of what the SQLite store keeps: SQLite checks the structure of its file (pages,
 * B-trees) but not the bytes of a value, so a bit flipped by a disk or an outside write inside a
 * task's output would be read back as that output. Each journal row and each run's definition,
 * inputs and settings carry a CRC-32 (`node:zlib`) of their content, checked when they are read;
 * a mismatch is `TW_STORE` naming the run and the entry. Rows written before the checksums
 * (schema version 1) have none and are read as they are.
 * @module
 */
import { crc32 } from 'node:zlib'
import { TaskweaveError } from '../../core/errors.js'

/**
 * The checksum of a journal row's content: CRC-32 of its text columns, with its numbers folded
 * in by multiplication (no text is built per row: this runs for every entry, on the database
 * thread, beside the commit the run's dependents wait for). A missing column and an empty one
 * differ.
 */
export function entryChecksum(seq: number, kind: number, taskId: string | null, attempt: number | null, at: number, data: string | null, added: string | null): number {
  let crc = taskId === null ? 0x5bd1e995 : crc32(taskId)
  if (data !== null) crc = crc32(data, (crc ^ 0x1) >>> 0)
  if (added !== null) crc = crc32(added, (crc ^ 0x2) >>> 0)
  crc = Math.imul(crc ^ seq, 0x9e3779b1)
  crc = Math.imul(crc ^ kind, 0x85ebca6b)
  crc = Math.imul(crc ^ (attempt ?? 0xffff), 0xc2b2ae35)
  // `at` is epoch ms: past 2^32, so folded as its two halves.
  crc = Math.imul(crc ^ (at % 0x100000000), 0x27d4eb2f)
  crc = Math.imul(crc ^ Math.floor(at / 0x100000000), 0x165667b1)
  return (crc ^ (crc >>> 15)) >>> 0
}

/** The checksum of a run's definition, inputs and settings (what a resume runs again from). */
export function runChecksum(definition: string, inputs: string, settings: string): number {
  return crc32(settings, crc32(`\u0000${inputs}\u0000`, crc32(definition)))
}

/** The error of a row whose content no longer matches its checksum. */
export function damagedError(runId: string, what: string): TaskweaveError {
  return new TaskweaveError('TW_STORE', `run "${runId}": ${what} is damaged (its checksum does not match what was written): the file was changed outside SQLite or corrupted on disk; restore it from a backup`, { retryable: false, details: { runId, damaged: what } })
}
