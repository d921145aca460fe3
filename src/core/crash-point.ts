/**
 * Named crash points for the crash tests: with `TW_CRASHPOINT=<name>[:<nth>]` in the environment
 * the process kills itself with `SIGKILL` the `nth` time (default the first) it passes the point
 * `<name>`, after appending the name to the file `TW_CRASHPOINT_FILE` (if set) so the test can
 * assert that its point fired. A real kill, not an exception: nothing after the point runs, no
 * `finally`, no flush. Without the variable a crash point costs one comparison.
 *
 * The points (each a durable boundary, or the gap between two writes):
 * - `journal.beforeAppend`: entries taken for a commit, not yet given to the store;
 * - `journal.afterAppend`: the store committed them; the runs have not heard yet;
 * - `run.afterCreate`: the store accepted a new run; it has not started;
 * - `resume.afterAcquire`: a resume took the lease; it has not read the journal.
 * @module
 */
import { appendFileSync, closeSync, fsyncSync, openSync } from 'node:fs'

interface Target {
  readonly name: string
  readonly nth: number
}

const target = parseTarget(process.env['TW_CRASHPOINT'])
const passed = new Map<string, number>()

function parseTarget(spec: string | undefined): Target | undefined {
  if (spec === undefined || spec === '') return undefined
  const colon = spec.lastIndexOf(':')
  const nth = colon > 0 ? Number(spec.slice(colon + 1)) : 1
  return { name: colon > 0 ? spec.slice(0, colon) : spec, nth: Number.isInteger(nth) && nth >= 1 ? nth : 1 }
}

/** Passes the crash point `name`: kills the process here when `TW_CRASHPOINT` names it. */
export function crashPoint(name: string): void {
  if (target === undefined || target.name !== name) return
  const n = (passed.get(name) ?? 0) + 1
  passed.set(name, n)
  if (n !== target.nth) return
  const file = process.env['TW_CRASHPOINT_FILE']
  if (file !== undefined && file !== '') {
    appendFileSync(file, `${name}:${n}\n`)
    const fd = openSync(file, 'r')
    fsyncSync(fd)
    closeSync(fd)
  }
  process.kill(process.pid, 'SIGKILL')
}
