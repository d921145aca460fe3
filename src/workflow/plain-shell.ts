/**
 * A fast pre-check for the common workflow shell (an id, tasks, and perhaps a name, version,
 * description and failFast), so the first compile in a fresh process does not pay for the shell
 * schema: zod's first parse of that schema costs about 3 ms before it is warm, a fifth of a first
 * 500-task run. Like `fast-task-check.ts` it is stricter than the schema: it accepts only shells it
 * is sure of, and everything else goes through the shell schema (`workflowSchemas().workflowShell`),
 * which also words the problems (tested against the schema in plain-shell.test.ts).
 * @module
 */
import { isPlainId } from './fast-task-check.js'

/** The fields of a shell {@link plainShell} accepted: what the schema's output would hold. */
export interface PlainShell {
  readonly id: string
  readonly name?: string
  readonly version?: string | number
  readonly description?: string
  readonly failFast?: boolean
}

/** Fields the compiler reads that only the schema checks. */
interface SchemaOnlyFields {
  readonly tools?: unknown
  readonly inputs?: unknown
  readonly defaults?: unknown
  readonly limits?: unknown
  readonly budget?: unknown
}

/**
 * The checked shell of `definition` when it is certainly valid and simple; undefined means "ask
 * the schema" (not "invalid").
 */
export function plainShell(definition: unknown): PlainShell | undefined {
  if (typeof definition !== 'object' || definition === null) return undefined
  if (Object.getPrototypeOf(definition) !== Object.prototype) return undefined
  const record = definition as Record<string, unknown>
  let id: string | undefined
  let name: string | undefined
  let version: string | number | undefined
  let description: string | undefined
  let failFast: boolean | undefined
  let tasks = false
  // for…in sees own enumerable keys only (the prototype is Object.prototype).
  for (const key in record) {
    const value = record[key]
    switch (key) {
      case 'id':
        if (typeof value !== 'string' || !isPlainId(value)) return undefined
        id = value
        break
      case 'tasks':
        if (!Array.isArray(value) || value.length === 0) return undefined
        tasks = true
        break
      case 'name':
        if (typeof value !== 'string') return undefined
        name = value
        break
      case 'description':
        if (typeof value !== 'string') return undefined
        description = value
        break
      case 'version':
        if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) return undefined
        version = value
        break
      case 'failFast':
        if (typeof value !== 'boolean') return undefined
        failFast = value
        break
      default:
        return undefined
    }
  }
  if (id === undefined || !tasks) return undefined
  // The schema also reads keys for…in does not see (non-enumerable ones): any it checks must be absent.
  const rest = record as SchemaOnlyFields & Record<keyof PlainShell, unknown>
  if (rest.tools !== undefined || rest.inputs !== undefined || rest.defaults !== undefined || rest.limits !== undefined || rest.budget !== undefined) return undefined
  if ((name === undefined && rest.name !== undefined) || (version === undefined && rest.version !== undefined) || (description === undefined && rest.description !== undefined) || (failFast === undefined && rest.failFast !== undefined)) return undefined
  return {
    id,
    ...(name !== undefined ? { name } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(failFast !== undefined ? { failFast } : {}),
  }
}
