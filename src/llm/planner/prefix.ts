/**
 * Renaming a plan's tasks before they join a running workflow: every id gets a prefix (so a plan's
 * `fetch` cannot collide with the workflow's own `fetch`, or with another plan's), and every
 * reference to a planned task is renamed with it, in `dependsOn` and in `{{ tasks.<id>… }}`
 * templates. References to tasks outside the plan are left as they are. Pure.
 * @module
 */
import type { TaskSpec } from '../../core/spec.js'
import { parseReference, type TemplateRef } from '../../workflow/template.js'

/** The planned tasks with `prefix` before every id and every reference to one of them. */
export function prefixTasks(tasks: readonly TaskSpec[], prefix: string): TaskSpec[] {
  const planned = new Set(tasks.map((task) => task.id))
  const rename = (id: string): string => (planned.has(id) ? `${prefix}${id}` : id)
  return tasks.map((task) => ({
    ...task,
    id: rename(task.id),
    ...(task.dependsOn === undefined ? {} : { dependsOn: task.dependsOn.map(rename) }),
    ...(task.input === undefined ? {} : { input: renameInValue(task.input, rename) as Record<string, unknown> }),
  }))
}

/** `value` with the task references of every template string inside renamed. */
function renameInValue(value: unknown, rename: (id: string) => string): unknown {
  if (typeof value === 'string') return value.includes('{{') ? renameInTemplate(value, rename) : value
  if (Array.isArray(value)) return value.map((item) => renameInValue(item, rename))
  if (typeof value === 'object' && value !== null) {
    // Defined, not assigned: a key such as "__proto__" (JSON.parse makes it an own key) stays an
    // ordinary key of the copy instead of setting its prototype.
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) Object.defineProperty(out, key, { value: renameInValue(item, rename), enumerable: true, writable: true, configurable: true })
    return out
  }
  return value
}

/**
 * A template string with each `{{ tasks.<id>… }}` of a renamed task rewritten; the text around
 * the references, and every other reference, is kept byte for byte. Scans `{{ … }}` as the
 * template parser does, so what it rewrites is exactly what the engine will read.
 */
function renameInTemplate(text: string, rename: (id: string) => string): string {
  let out = ''
  let cursor = 0
  for (;;) {
    const open = text.indexOf('{{', cursor)
    const close = open < 0 ? -1 : text.indexOf('}}', open + 2)
    if (open < 0 || close < 0) return out + text.slice(cursor)
    out += text.slice(cursor, open)
    const inner = text.slice(open + 2, close)
    out += `{{${rewriteReference(inner, rename) ?? inner}}}`
    cursor = close + 2
  }
}

/** The reference `inner` with its task renamed, or undefined to keep it as written. */
function rewriteReference(inner: string, rename: (id: string) => string): string | undefined {
  let ref: TemplateRef
  try {
    ref = parseReference(inner.trim())
  } catch {
    return undefined // compilation has reported it already
  }
  const [id, ...rest] = ref.path
  if (ref.root !== 'tasks' || typeof id !== 'string' || rename(id) === id) return undefined
  // Written back in a canonical form (`.name`, `[0]`, `["odd key"]`) the parser reads as the same path.
  return ` tasks.${rename(id)}${rest.map(segment).join('')} `
}

function segment(part: string | number): string {
  if (typeof part === 'number') return `[${part}]`
  return /^[A-Za-z0-9_$-]+$/.test(part) ? `.${part}` : `["${part.replace(/["\\]/g, '\\$&')}"]`
}
