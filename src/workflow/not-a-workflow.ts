/**
 * Words for the two mistakes a newcomer makes first. Pointing `taskweave validate` at a file that
 * is not a workflow at all (a package.json, a compose file) gives one sentence saying so, not one
 * schema error per key. And a task written in the shape of the LAIOS seed, with `dependencies:`,
 * is told that taskweave calls it `dependsOn`.
 * @module
 */

/** Keys other task formats use, and the taskweave field meant. */
const TASK_KEY_HINTS: Readonly<Record<string, string>> = {
  dependencies: 'dependsOn',
  depends_on: 'dependsOn',
  deps: 'dependsOn',
  needs: 'dependsOn',
  after: 'dependsOn',
  params: 'input',
  parameters: 'input',
  args: 'input',
}

/** Keys other retry settings use (p-retry, Celery, Temporal), and the taskweave field meant. */
const RETRY_KEY_HINTS: Readonly<Record<string, string>> = {
  attempts: 'maxAttempts',
  max_attempts: 'maxAttempts',
  maximumAttempts: 'maxAttempts',
  retries: 'maxAttempts',
  max_retries: 'maxAttempts',
  maxRetries: 'maxAttempts',
  delay: 'initialDelay',
  minTimeout: 'initialDelay',
  initialInterval: 'initialDelay',
  backoffCoefficient: 'factor',
  maxTimeout: 'maxDelay',
  maximumInterval: 'maxDelay',
}

/** A hint to append to a schema issue about unknown task (or task retry) keys, or ''. */
export function keyHint(issue: { readonly code?: string; readonly keys?: readonly string[]; readonly path?: readonly PropertyKey[] }): string {
  if (issue.code !== 'unrecognized_keys' || issue.keys === undefined) return ''
  const table = issue.path?.[issue.path.length - 1] === 'retry' ? RETRY_KEY_HINTS : TASK_KEY_HINTS
  const hints = issue.keys.filter((key) => Object.hasOwn(table, key)).map((key) => `use "${table[key]}" instead of "${key}"${table === RETRY_KEY_HINTS && key.toLowerCase().includes('retries') ? ' (attempts in all, the first included)' : ''}`)
  return hints.length > 0 ? ` (${hints.join('; ')})` : ''
}

/**
 * Why `definition` is not a workflow at all (a mapping with neither `id` nor `tasks`), or undefined
 * when it may be one and the schema should word its problems.
 */
export function notAWorkflow(definition: unknown): string | undefined {
  if (Array.isArray(definition)) return `this is a list, not a workflow: a workflow is an object { id, tasks: [...] }${definition.length > 0 && (definition as unknown[]).every((item) => typeof item === 'object' && item !== null && Object.hasOwn(item, 'id')) ? ` (these ${definition.length} look like its tasks: put them under tasks)` : ''}`
  if (typeof definition !== 'object' || definition === null) return undefined
  if (Object.hasOwn(definition, 'id') || Object.hasOwn(definition, 'tasks')) return undefined
  const keys = Object.keys(definition)
  const shown = keys.slice(0, 6).map((key) => `"${key}"`).join(', ')
  return `this is not a taskweave workflow: a workflow holds "id" and "tasks" (a list of tasks)${keys.length > 0 ? `, and this file has ${shown}${keys.length > 6 ? ', …' : ''}` : ''}`
}
