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

/** The checksum of a journal row's content. Fields are separated so "ab"+"c" and "a"+"bc" differ. */
export function entryChecksum(seq: number, kind: number, taskId: string | null, attempt: number | null, at: number, data: string | null, added: string | null): number {
  let crc = crc32(`${seq}\u0000${kind}\u0000${attempt ?? ''}\u0000${at}\u0000${taskId ?? '\u0001'}\u0000`)
  crc = crc32(data ?? '\u0001', crc)
  return crc32(added === null ? '\u0001' : `\u0000${added}`, crc)
}

/** The checksum of a run's definition, inputs and settings (what a resume runs again from). */
export function runChecksum(definition: string, inputs: string, settings: string): number {
  return crc32(settings, crc32(`\u0000${inputs}\u0000`, crc32(definition)))
}

/** The error of a row whose content no longer matches its checksum. */
export function damagedError(runId: string, what: string): TaskweaveError {
  return new TaskweaveError('TW_STORE', `run "${runId}": ${what} is damaged (its checksum does not match what was written): the file was changed outside SQLite or corrupted on disk; restore it from a backup`, { retryable: false, details: { runId, damaged: what } })
}
