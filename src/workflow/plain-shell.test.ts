import { describe, expect, it } from 'vitest'
import { plainShell } from './plain-shell.js'
import { workflowSchemas } from './schema.js'
import { compileWorkflow } from './compile.js'
import { ToolRegistry } from '../core/registry.js'
import { ValidationError } from '../core/errors.js'

const TASKS = [{ id: 'a', tool: 't' }]

// Shell-like values, valid and not, built from every combination of a few values per field.
function* candidates(): Generator<unknown> {
  const ids = ['w', 'flow-1', '', 'a b', '__proto__', 'a'.repeat(129), 7, undefined]
  const names = [undefined, 'Name', 3]
  const versions = [undefined, '1.0', 2, Number.NaN, Infinity, true]
  const descriptions = [undefined, 'text', null]
  const failFasts = [undefined, true, false, 'yes']
  const taskLists = [TASKS, [], 'x', undefined]
  for (const id of ids) for (const name of names) for (const version of versions) for (const description of descriptions) for (const failFast of failFasts) for (const tasks of taskLists) {
    const shell: Record<string, unknown> = {}
    if (id !== undefined) shell['id'] = id
    if (name !== undefined) shell['name'] = name
    if (version !== undefined) shell['version'] = version
    if (description !== undefined) shell['description'] = description
    if (failFast !== undefined) shell['failFast'] = failFast
    if (tasks !== undefined) shell['tasks'] = tasks
    yield shell
  }
  yield { id: 'w', tasks: TASKS, extra: 1 }
  yield { id: 'w', tasks: TASKS, limits: { concurrency: 2 } }
  yield { id: 'w', tasks: TASKS, inputs: {} }
  yield Object.defineProperty({ id: 'w', tasks: TASKS }, 'limits', { value: { concurrency: 0 }, enumerable: false })
  yield Object.defineProperty({ id: 'w', tasks: TASKS }, 'name', { value: 5, enumerable: false })
  yield Object.assign(Object.create({ inherited: 1 }) as object, { id: 'w', tasks: TASKS })
  yield Object.assign(Object.create(null) as object, { id: 'w', tasks: TASKS })
  yield null
  yield [TASKS]
}

describe('plainShell', () => {
  it('accepts only shells the schema accepts, with the same fields', () => {
    let accepted = 0
    let checked = 0
    for (const shell of candidates()) {
      checked++
      const plain = plainShell(shell)
      if (plain === undefined) continue
      accepted++
      const parsed = workflowSchemas().workflowShell.safeParse(shell)
      expect(parsed.success, JSON.stringify(shell)).toBe(true)
      const { tasks: _tasks, ...fields } = parsed.data as Record<string, unknown>
      expect(plain, JSON.stringify(shell)).toEqual(fields)
    }
    expect(checked).toBeGreaterThan(1000)
    expect(accepted).toBeGreaterThan(50) // the fast path does take the common shapes
  })

  it('leaves every other shell to the schema, which words the problem', () => {
    const registry = new ToolRegistry()
    const hidden = Object.defineProperty({ id: 'w', tasks: [{ id: 'a', tool: 't' }] }, 'limits', { value: { concurrency: 0 }, enumerable: false })
    expect(plainShell(hidden)).toBeUndefined()
    let caught: unknown
    try {
      compileWorkflow(hidden, { registry })
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(ValidationError)
    expect((caught as ValidationError).issues.some((i) => i.field?.startsWith('limits') === true)).toBe(true)
  })
})
