/**
 * A fast pre-check for the common shapes of tasks, so a 100,000-task workflow does not pay a full
 * schema parse per task. It is deliberately stricter than the schema: it accepts only tasks made of
 * the simplest fields with plainly valid values, and everything else goes through
 * `workflowSchemas().task.safeParse`, which also produces the error messages. Accepting only a subset of what
 * the schema accepts is what keeps the two from disagreeing (tested in fast-task-check.test.ts).
 * @module
 */
const MAX_PRIORITY = 1_000_000
const MAX_ID_LENGTH = 128

/** Bits of the fields seen by the for…in walk. */
const ID = 1
const TOOL = 2
const DESCRIPTION = 4
const DEPENDS_ON = 8
const INPUT = 16
const PRIORITY = 32
const COST = 64
const GROUP = 128

/** True when `value` matches the schema's id pattern `[A-Za-z0-9_-]{1,128}`, reserved names aside (a loop: several times faster than the regex). */
export function isPlainId(value: string): boolean {
  const n = value.length
  if (n === 0 || n > MAX_ID_LENGTH) return false
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i)
    // 0-9, A-Z, a-z, '_', '-'
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45)) return false
  }
  // `__proto__`, `constructor`, `prototype`: the schema refuses them with its own message.
  return !(n >= 9 && n <= 11 && (value === '__proto__' || value === 'constructor' || value === 'prototype'))
}

/**
 * The schema's id pattern (`ID_PATTERN` in schema.ts, repeated here so this module loads no zod).
 * A regular expression runs as native code from its first use, where the loop of {@link isPlainId}
 * is interpreted until V8 optimizes it: for a small workflow, checked once in a process that may
 * have just started, the pattern is about 3× faster (2,000 ids: 0.5 ms against 1.4 ms); once the
 * loop is optimized it is about 2× faster than the pattern, which pays on large workflows.
 */
const ID_SHAPE = /^(?!(?:__proto__|constructor|prototype)$)[A-Za-z0-9_-]{1,128}$/

/** True when `value` is a valid id: by the pattern for a small workflow, by the loop for a large one (see {@link ID_SHAPE}). */
function isId(value: string, small: boolean): boolean {
  return small ? ID_SHAPE.test(value) : isPlainId(value)
}

/** True when `task` is certainly valid; false means "ask the schema" (not "invalid"). */
export function isPlainValidTask(task: unknown): boolean {
  return plainTaskKind(task) !== NOT_PLAIN
}

/** {@link plainTaskKind}: the schema must decide. */
export const NOT_PLAIN = 0
/** {@link plainTaskKind}: certainly valid, with an `input`. */
export const PLAIN_WITH_INPUT = 1
/**
 * {@link plainTaskKind}: certainly valid, made of id, tool and perhaps description, dependsOn,
 * priority, group and cost only: nothing to compile but its dependencies and shared shape.
 */
export const PLAIN_BARE = 2

/**
 * Classifies a task for the compiler's fast paths (see the constants above). `small`: the task
 * belongs to a small workflow, whose ids are checked by pattern (see {@link ID_SHAPE}).
 */
export function plainTaskKind(task: unknown, small = false): number {
  if (typeof task !== 'object' || task === null) return NOT_PLAIN
  // Plain objects only (this also excludes arrays).
  if (Object.getPrototypeOf(task) !== Object.prototype) return NOT_PLAIN
  const record = task as Record<string, unknown>
  let seen = 0
  // for…in allocates nothing; the prototype is Object.prototype, so only own keys are visited.
  for (const key in record) {
    const value = record[key]
    switch (key) {
      case 'id':
        if (typeof value !== 'string' || !isId(value, small)) return NOT_PLAIN
        seen |= ID
        break
      case 'tool':
        if (typeof value !== 'string' || value.length === 0) return NOT_PLAIN
        seen |= TOOL
        break
      case 'dependsOn':
        if (!Array.isArray(value)) return NOT_PLAIN
        for (let i = 0; i < value.length; i++) {
          const dep: unknown = value[i]
          if (typeof dep !== 'string' || !isId(dep, small)) return NOT_PLAIN
        }
        seen |= DEPENDS_ON
        break
      default: {
        const bit = otherFieldBit(key, value, small)
        if (bit === 0) return NOT_PLAIN
        seen |= bit
      }
    }
  }
  if ((seen & ID) === 0 || (seen & TOOL) === 0) return NOT_PLAIN
  // The schema also sees non-enumerable keys: any field the compiler reads must have been seen
  // above, so one hidden from for…in sends the task to the schema. Named reads, one per field,
  // stay fast when every task has the same layout.
  const t = record as { [K in ReadField]?: unknown }
  if ((seen & DESCRIPTION) === 0 && t.description !== undefined) return NOT_PLAIN
  if ((seen & DEPENDS_ON) === 0 && t.dependsOn !== undefined) return NOT_PLAIN
  if ((seen & INPUT) === 0 && t.input !== undefined) return NOT_PLAIN
  if ((seen & PRIORITY) === 0 && t.priority !== undefined) return NOT_PLAIN
  if ((seen & COST) === 0 && t.cost !== undefined) return NOT_PLAIN
  if ((seen & GROUP) === 0 && t.group !== undefined) return NOT_PLAIN
  if (t.agent !== undefined || t.session !== undefined || t.stream !== undefined || t.when !== undefined || t.trigger !== undefined || t.forEach !== undefined || t.retry !== undefined || t.timeout !== undefined || t.idempotent !== undefined || t.onUncertain !== undefined) return NOT_PLAIN
  return (seen & INPUT) === 0 ? PLAIN_BARE : PLAIN_WITH_INPUT
}

/**
 * The bit of a field other than id, tool and dependsOn, or 0 when the field or its value needs
 * the schema. Apart from {@link plainTaskKind}: a fresh process then compiles it only for a
 * workflow whose tasks have such fields (V8 compiles a function on its first call).
 */
function otherFieldBit(key: string, value: unknown, small: boolean): number {
  switch (key) {
    case 'group':
      return typeof value === 'string' && isId(value, small) ? GROUP : 0
    case 'description':
      return typeof value === 'string' ? DESCRIPTION : 0
    case 'input': {
      if (typeof value !== 'object' || value === null) return 0
      const proto: unknown = Object.getPrototypeOf(value)
      // Plain objects only: a Date, Map or class instance is not a record to the schema.
      if (proto !== Object.prototype && proto !== null) return 0
      // The schema rejects symbol keys (YAML and JSON cannot make them; code can).
      return Object.getOwnPropertySymbols(value).length > 0 ? 0 : INPUT
    }
    case 'priority':
      return Number.isInteger(value) && (value as number) >= -MAX_PRIORITY && (value as number) <= MAX_PRIORITY ? PRIORITY : 0
    case 'cost':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? COST : 0
    default:
      return 0
  }
}

/** Fields the compiler reads from a task. */
type ReadField = 'id' | 'tool' | 'agent' | 'session' | 'stream' | 'input' | 'dependsOn' | 'when' | 'trigger' | 'forEach' | 'priority' | 'group' | 'cost' | 'retry' | 'timeout' | 'description' | 'idempotent' | 'onUncertain'
