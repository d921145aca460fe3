/**
 * `taskweave doctor [--store S] [--json]`: checks the run store end to end. Opening it already
 * refuses a file that is not a database, is newer than this release or lost commits (its `-wal`);
 * then a SQLite file gets `PRAGMA integrity_check` (every page and index), and every run is read
 * back whole, so each stored value is checked against its checksum and each journal entry decoded.
 * Exit 0 when all is intact, 3 when anything is damaged (the report names each run and what).
 * @module
 */
import { TaskweaveError } from '../../core/errors.js'
import type { RunStore } from '../../core/store.js'
import { loadCliConfig } from '../config.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { noStoreAt, openExistingStore, parseStoreSpec } from '../open-store.js'
import { terminalSafe } from '../terminal-text.js'

/** Parsed arguments of `doctor`. */
export interface DoctorCommandArgs {
  readonly store?: string
  readonly config?: string
  readonly json: boolean
}

/** What `doctor` found. */
export interface DoctorReport {
  readonly store: string
  readonly kind: string
  /** SQLite's `integrity_check` lines (`['ok']` when intact); absent for other stores. */
  readonly integrity?: readonly string[]
  readonly runs: number
  readonly entries: number
  /** Runs that could not be read back whole, and why. */
  readonly damaged: readonly { readonly runId: string; readonly error: string }[]
  readonly ok: boolean
}

/** A store that can check its file (the SQLite store). */
interface IntegrityChecked {
  integrityCheck(): Promise<readonly string[]>
}

function checksIntegrity(store: RunStore): store is RunStore & IntegrityChecked {
  return typeof (store as Partial<IntegrityChecked>).integrityCheck === 'function'
}

/** Reads the whole store back; the report says what is damaged. */
export async function examineStore(store: RunStore): Promise<DoctorReport> {
  const integrity = checksIntegrity(store) ? await store.integrityCheck() : undefined
  const runs = await store.list({ limit: Infinity })
  let entries = 0
  const damaged: { runId: string; error: string }[] = []
  for (const run of runs) {
    try {
      const stored = await store.load(run.runId)
      entries += stored?.entries.length ?? 0
    } catch (err) {
      // A store that cannot answer at all is not one damaged run: that ends the examination.
      if (TaskweaveError.is(err, 'TW_STORE') && err.retryable) throw err
      damaged.push({ runId: run.runId, error: err instanceof Error ? err.message : String(err) })
    }
  }
  const intact = integrity === undefined || (integrity.length === 1 && integrity[0] === 'ok')
  return { store: store.location, kind: store.kind, ...(integrity !== undefined ? { integrity } : {}), runs: runs.length, entries, damaged, ok: intact && damaged.length === 0 }
}

/** Runs the command; resolves to the exit code. */
export async function doctorCommand(args: DoctorCommandArgs, io: CliIo): Promise<number> {
  const spec = parseStoreSpec(args.store ?? (await loadCliConfig(args.config)).store, process.cwd())
  const store = await openExistingStore(spec)
  if (store === undefined) {
    io.stdout(args.json ? JSON.stringify({ ok: true, runs: 0, note: noStoreAt(spec) }) : `nothing to check: ${noStoreAt(spec)}`)
    return EXIT.ok
  }
  let report: DoctorReport
  try {
    report = await examineStore(store)
  } finally {
    await store.close()
  }
  if (args.json) {
    io.stdout(JSON.stringify(report, null, 2))
    return report.ok ? EXIT.ok : EXIT.store
  }
  const lines = [`${report.kind} store ${report.store}: ${report.ok ? 'intact' : 'DAMAGED'}`]
  if (report.integrity !== undefined) lines.push(`  integrity_check: ${report.integrity.length === 1 && report.integrity[0] === 'ok' ? 'ok' : `\n    ${report.integrity.join('\n    ')}`}`)
  lines.push(`  ${report.runs} run${report.runs === 1 ? '' : 's'} read back whole (${report.entries} journal entr${report.entries === 1 ? 'y' : 'ies'}): ${report.damaged.length === 0 ? 'every value matches its checksum' : `${report.damaged.length} damaged`}`)
  for (const run of report.damaged) lines.push(`    ${run.runId}: ${run.error}`)
  if (!report.ok) lines.push('  restore the store from a backup (keep this file: do not delete it); a damaged run cannot be resumed as it is')
  io.stdout(terminalSafe(lines.join('\n'), { multiline: true }))
  return report.ok ? EXIT.ok : EXIT.store
}
