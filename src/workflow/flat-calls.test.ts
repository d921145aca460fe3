import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import { createEngine } from '../engine/engine.js'
import { compileWorkflow } from './compile.js'
import { compileFlatCalls } from './flat-calls.js'
import type { FlatCall } from './flat-calls.js'
import { FlatInput } from './flat-task.js'
import type { WorkflowSpec } from './types.js'

const add = defineTool({ name: 'add', input: z.object({ a: z.number(), b: z.number() }), run: ({ a, b }) => a + b })
const upper = defineTool({ name: 'upper', input: z.object({ s: z.string().transform((s) => s.toUpperCase()) }), run: ({ s }) => s })
const registry = new ToolRegistry([add, upper])

/** The definition `compileFlatCalls` stands for. */
function definitionOf(calls: readonly FlatCall[], group?: { name: string; cap: number }, timeout?: number): WorkflowSpec {
  const tasks = calls.map((c) => ({ id: c.id, tool: c.tool.name, input: c.input, ...(c.description !== undefined ? { description: c.description } : {}), ...(group !== undefined ? { group: group.name } : {}), ...(timeout !== undefined ? { timeout } : {}) }))
  return group === undefined ? { id: 'batch', tasks } : { id: 'batch', tasks, limits: { groups: { [group.name]: group.cap } } }
}

describe('compileFlatCalls', () => {
  const calls: FlatCall[] = [
    { id: 't0', tool: add, input: { a: 1, b: 2 }, description: undefined },
    { id: 't2', tool: upper, input: { s: 'hi' }, description: 'shout' },
    { id: 't3', tool: add, input: { b: 5, a: -1 }, description: undefined },
  ]

  it('compiles to what compileWorkflow makes of the same definition: ids, graph, inputs, snapshot and hash', () => {
    const flat = compileFlatCalls(calls, { id: 'batch' })
    const full = compileWorkflow(definitionOf(calls), { registry })
    expect(flat).toBeDefined()
    if (flat === undefined) return
    expect(flat.ids).toEqual(full.ids)
    expect(flat.size).toBe(3)
    expect(flat.order).toEqual(full.order)
    expect(flat.tasks.map((t) => [t.parents, t.children])).toEqual(full.tasks.map((t) => [t.parents, t.children]))
    expect(flat.tasks.map((t) => t.staticInput)).toEqual(full.tasks.map((t) => t.staticInput))
    // The schema's transform is what the tool gets; the input as written is what the snapshot pins.
    expect(flat.tasks[1]?.staticInput).toEqual({ value: { s: 'HI' } })
    expect(flat.snapshot).toBe(full.snapshot)
    expect(flat.hash).toBe(full.hash)
    expect(flat.spec).toEqual(full.spec)
    expect([...flat.indexById]).toEqual([...full.indexById])
  })

  it('puts every call in the group and caps it, as the definition with limits.groups does', () => {
    const group = { name: 'executor-1', cap: 4 }
    const flat = compileFlatCalls(calls, { id: 'batch', group })
    const full = compileWorkflow(definitionOf(calls, group), { registry })
    expect(flat?.groups).toEqual({ 'executor-1': 4 })
    expect(flat?.shapes.map((s) => s.group)).toEqual(['executor-1', 'executor-1', 'executor-1'])
    expect(flat?.hash).toBe(full.hash)
  })

  it('gives every call the timeout, as a timeout on each task of the definition does, and the workflow no defaults', () => {
    const flat = compileFlatCalls(calls, { id: 'batch', timeoutMs: 1500 })
    const full = compileWorkflow(definitionOf(calls, undefined, 1500), { registry })
    expect(flat?.shapes.map((s) => s.timeoutMs)).toEqual([1500, 1500, 1500])
    expect(flat?.shapes.map((s) => s.timeoutMs)).toEqual(full.shapes.map((s) => s.timeoutMs))
    expect(flat?.defaults).toBeUndefined()
    expect(flat?.hash).toBe(full.hash)
  })

  it('pins each input: changing the caller’s object afterwards changes neither the run nor the snapshot', async () => {
    const input: Record<string, unknown> = { a: 2, b: 3 }
    const flat = compileFlatCalls([{ id: 'x', tool: add, input, description: undefined }], { id: 'batch' })
    input['a'] = 100
    expect(flat?.shapes[0]?.input).toBeInstanceOf(FlatInput)
    expect(flat?.snapshot).toContain('"a":2')
    await using engine = createEngine({ builtins: false, tools: [add, upper] })
    const result = await engine.run(flat ?? { id: 'none', tasks: [] })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['x']?.output).toBe(5)
  })

  it('gives up (undefined) on an input its tool rejects, a repeated id or an invalid one, for the full compile to word', () => {
    expect(compileFlatCalls([{ id: 'a', tool: add, input: { a: 'one', b: 2 }, description: undefined }], { id: 'batch' })).toBeUndefined()
    expect(
      compileFlatCalls(
        [
          { id: 'a', tool: add, input: { a: 1, b: 2 }, description: undefined },
          { id: 'a', tool: add, input: { a: 1, b: 2 }, description: undefined },
        ],
        { id: 'batch' },
      ),
    ).toBeUndefined()
    for (const id of ['', 'has space', '__proto__', 'x'.repeat(129)]) expect(compileFlatCalls([{ id, tool: add, input: { a: 1, b: 2 }, description: undefined }], { id: 'batch' })).toBeUndefined()
  })

  it('runs its tasks on an engine, each with its own input', async () => {
    const many: FlatCall[] = Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, tool: add, input: { a: i, b: 1 }, description: undefined }))
    const flat = compileFlatCalls(many, { id: 'batch' })
    await using engine = createEngine({ builtins: false, tools: [add] })
    const result = await engine.run(flat ?? { id: 'none', tasks: [] })
    expect(result.counts.succeeded).toBe(50)
    expect(Object.values(result.tasks).map((t) => t.output)).toEqual(many.map((_, i) => i + 1))
  })

  it('with ids the caller made distinct: the same workflow, its tasks found by id when a run asks', async () => {
    const many: FlatCall[] = Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, tool: add, input: { a: i, b: 1 }, description: undefined }))
    const trusted = compileFlatCalls(many, { id: 'batch', distinctIds: true })
    const checked = compileFlatCalls(many, { id: 'batch' })
    expect(trusted?.hash).toBe(checked?.hash)
    expect(trusted?.ids).toEqual(checked?.ids)
    await using engine = createEngine({ builtins: false, tools: [add] })
    const handle = engine.start(trusted ?? { id: 'none', tasks: [] })
    expect(handle.taskStatus('t7')).toBeDefined()
    expect(handle.taskStatus('t20')).toBeUndefined()
    const result = await handle.result
    expect(result.tasks['t19']?.output).toBe(20)
  })
})
