/**
 * A fast pre-check for the common shapes of tasks, so a 100,000-task workflow does not pay a full
 * schema parse per task. It is deliberately stricter than the schema: it accepts only tasks made of
 * the simplest fields with plainly valid values, and everything else goes through
 * `taskSchema.safeParse`, which also produces the error messages. Accepting only a subset of what
 * the schema accepts is what keeps the two from disagreeing (tested in fast-task-check.test.ts).
 * @module
 */
import { ID_PATTERN } from './schema.js'

const MAX_PRIORITY = 1_000_000

/** Fields the compiler reads from a task; a hidden (non-enumerable) one must not slip past this check. */
const READ_FIELDS = ['id', 'tool', 'agent', 'session', 'input', 'dependsOn', 'when', 'trigger', 'forEach', 'priority', 'group', 'cost', 'retry', 'timeout', 'description'] as const

/** True when `task` is certainly valid; false means "ask the schema" (not "invalid"). */
export function isPlainValidTask(task: unknown): boolean {
  if (typeof task !== 'object' || task === null || Array.isArray(task)) return false
  if (Object.getPrototypeOf(task) !== Object.prototype) return false
  const record = task as Record<string, unknown>
  let seen = 0
  // for…in allocates nothing; the prototype is Object.prototype, so only own keys are visited.
  for (const key in record) {
    const value = record[key]
    seen++
    switch (key) {
      case 'id':
      case 'group':
        if (typeof value !== 'string' || !ID_PATTERN.test(value)) return false
        break
      case 'tool':
        if (typeof value !== 'string' || value.length === 0) return false
        break
      case 'description':
        if (typeof value !== 'string') return false
        break
      case 'dependsOn':
        if (!Array.isArray(value)) return false
        for (let i = 0; i < value.length; i++) {
          const dep: unknown = value[i]
          if (typeof dep !== 'string' || !ID_PATTERN.test(dep)) return false
        }
        break
      case 'input': {
        if (typeof value !== 'object' || value === null) return false
        const proto: unknown = Object.getPrototypeOf(value)
        // Plain objects only: a Date, Map or class instance is not a record to the schema.
        if (proto !== Object.prototype && proto !== null) return false
        break
      }
      case 'priority':
        if (!Number.isInteger(value) || (value as number) < -MAX_PRIORITY || (value as number) > MAX_PRIORITY) return false
        break
      case 'cost':
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return false
        break
      default:
        return false
    }
  }
  if (typeof record['id'] !== 'string') return false
  // The schema also sees non-enumerable keys: any field the compiler reads must have been checked
  // above, so one hidden from for…in sends the task to the schema.
  let visible = 0
  for (const field of READ_FIELDS) if (record[field] !== undefined) visible++
  return visible <= seen
}
