import { describe, expect, it } from 'vitest'
import { isPlainId, isPlainValidTask, plainTaskKind } from './fast-task-check.js'
import { ID_PATTERN, workflowSchemas } from './schema.js'

// A small deterministic generator of task-like values, valid and not.
function* candidates(): Generator<unknown> {
  const ids = ['a', 'task-1', 'x_y', '', 'a/b', 'a'.repeat(128), 'a'.repeat(129), '__proto__', 'constructor', 7, undefined]
  const tools = ['t', '', 3, undefined]
  const deps = [undefined, [], ['a'], ['a', 'b-2'], ['bad id'], 'a', [1]]
  const inputs = [undefined, {}, { a: 1 }, [], null, 'x']
  const priorities = [undefined, 0, 5, -3, 1.5, 2_000_000, '1']
  const costs = [undefined, 0, 2.5, -1, Number.NaN, Infinity]
  for (const id of ids) for (const tool of tools) for (const dependsOn of deps) for (const input of inputs) for (const priority of priorities) for (const cost of costs) {
    const task: Record<string, unknown> = {}
    if (id !== undefined) task['id'] = id
    if (tool !== undefined) task['tool'] = tool
    if (dependsOn !== undefined) task['dependsOn'] = dependsOn
    if (input !== undefined) task['input'] = input
    if (priority !== undefined) task['priority'] = priority
    if (cost !== undefined) task['cost'] = cost
    yield task
  }
  yield { id: 'a', tool: 't', extra: 1 }
  yield { id: 'a', tool: 't', group: 'g' }
  yield { id: 'a', tool: 't', group: 'g h' }
  yield Object.assign(Object.create({ inherited: 1 }) as object, { id: 'a', tool: 't' })
  yield null
  yield []
  for (const input of [new Date(), new Map(), /x/, Promise.resolve(), new (class Thing {})(), Object.create(null) as object]) yield { id: 'a', tool: 't', input }
  yield Object.defineProperty({ id: 'a', tool: 't' }, 'when', { value: 42, enumerable: false })
  yield { id: 'a', tool: 't', [Symbol('s')]: 1 }
  yield { id: 'a', tool: 't', input: { [Symbol('s')]: 1 } }
}

describe('isPlainValidTask', () => {
  it('never accepts a task the schema rejects', () => {
    let accepted = 0
    let checked = 0
    for (const task of candidates()) {
      checked++
      if (isPlainValidTask(task)) {
        accepted++
        expect(workflowSchemas().task.safeParse(task).success, JSON.stringify(task)).toBe(true)
      }
    }
    expect(checked).toBeGreaterThan(10_000)
    expect(accepted).toBeGreaterThan(100) // the fast path does take the common shapes
  })

  it('classifies every candidate the same way for a small workflow (ids by pattern) and a large one (ids by loop)', () => {
    for (const task of candidates()) expect(plainTaskKind(task, true), JSON.stringify(task)).toBe(plainTaskKind(task, false))
  })

  it('checks ids exactly as the schema pattern does', () => {
    const samples = ['a', 'A-z_9', '', 'a'.repeat(128), 'a'.repeat(129), 'a b', 'é', 'a.b', '-', '_', 'x\n', 'Z0']
    for (let c = 0; c < 256; c++) samples.push(`x${String.fromCharCode(c)}y`)
    for (const id of samples) expect(isPlainId(id), JSON.stringify(id)).toBe(ID_PATTERN.test(id))
  })
})
