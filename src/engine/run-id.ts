/**
 * A run id names the run in reports, events, file names and database keys, so it is kept to a
 * safe alphabet: letters, digits and `. _ : -`, starting with a letter or digit, at most 128
 * characters (a UUID, a ULID, `conversation-42:run-7` all fit; `../x`, NUL or a newline do not).
 * @module
 */
import { InvalidOptionError } from '../core/errors.js'

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** Throws `TW_INVALID_OPTION` naming `runId` unless `runId` is a safe run id. */
export function checkRunId(runId: unknown): asserts runId is string {
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
    throw new InvalidOptionError('runId', '1–128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit', runId)
  }
}
