import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { compileWorkflow } from './compile.js'
import { FlatInput, isFlatInput } from './flat-task.js'
import { canonicalJson } from '../core/canonical-json.js'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import { ValidationError } from '../core/errors.js'
import { createEngine } from '../engine/engine.js'

const read = defineTool({ name: 'read', input: z.object({ path: z.string(), n: z.number().optional() }), run: (input) => input })
const withDefault = defineTool({ name: 'paged', input: z.object({ page: z.number().default(1), q: z.string() }), run: (input) => input })
const registry = new ToolRegistry([read, withDefault])

describe('isFlatInput', () => {
  it('accepts an object of strings, finite numbers, booleans and null only', () => {
    expect(isFlatInput({ a: 'x', b: 1, c: true, d: null })).toBe(true)
    expect(isFlatInput({})).toBe(true)
    expect(isFlatInput({ a: { b: 1 } })).toBe(false)
    expect(isFlatInput({ a: [1] })).toBe(false)
    expect(isFlatInput({ a: '{{ inputs.x }}' })).toBe(false)
    expect(isFlatInput({ a: Number.NaN })).toBe(false)
    expect(isFlatInput({ a: undefined })).toBe(false)
    expect(isFlatInput({ a: 1n })).toBe(false)
    expect(isFlatInput(JSON.parse('{"__proto__": 1}') as Record<string, unknown>)).toBe(false)
  })
})

describe('flat tasks', () => {
  const definition = (): { id: string; tasks: Record<string, unknown>[] } => ({
    id: 'flat',
    tasks: [
      { id: 'a', tool: 'read', input: { path: 'a.txt' }, description: 'first', priority: 3 },
      { id: 'b', tool: 'read', input: { path: 'b.txt', n: 2 }, dependsOn: ['a'], group: 'io', cost: 2 },
      { id: 'c', tool: 'paged', input: { q: 'x' }, dependsOn: ['a', 'b'] },
      { id: 'd', tool: 'read', input: { path: 'nested', n: 1, extra: { deep: true } } },
    ],
  })

  it('pins the same canonical text as the definition itself', () => {
    const def = definition()
    const compiled = compileWorkflow(def, { registry })
    expect(compiled.shapes[0]?.input).toBeInstanceOf(FlatInput)
    expect(compiled.shapes[3]?.input).not.toBeInstanceOf(FlatInput)
    expect(compiled.snapshot).toBe(canonicalJson(JSON.parse(JSON.stringify(def))))
  })

  it('keeps the input the tool checked, and the input as written for the snapshot, when the schema fills a default', () => {
    const compiled = compileWorkflow(definition(), { registry })
    const c = compiled.tasks[2]
    expect(c?.staticInput).toEqual({ value: { q: 'x', page: 1 } })
    expect(JSON.parse(compiled.snapshot).tasks[2].input).toEqual({ q: 'x' })
  })

  it('is not changed by the caller mutating its objects after compiling', async () => {
    const def = definition()
    const compiled = compileWorkflow(def, { registry })
    ;(def.tasks[0]?.['input'] as Record<string, unknown>)['path'] = 'changed'
    ;(def.tasks[2]?.['input'] as Record<string, unknown>)['q'] = 'changed'
    const untouched = compileWorkflow(definition(), { registry })
    expect(compiled.snapshot).toBe(untouched.snapshot)
    expect(compiled.hash).toBe(untouched.hash)
    const engine = createEngine({ tools: [read, withDefault], builtins: false })
    const result = await engine.run(compiled)
    expect(result.tasks['a']?.output).toEqual({ path: 'a.txt' })
    expect(result.tasks['c']?.output).toEqual({ q: 'x', page: 1 })
    await engine.close()
  })

  it('shows a frozen pinned input: the compiled view cannot change the snapshot', () => {
    const compiled = compileWorkflow(definition(), { registry })
    const before = compiled.snapshot
    const shown = compiled.tasks[0]?.staticInput?.value as Record<string, unknown>
    expect(Object.isFrozen(shown)).toBe(true)
    expect(() => {
      shown['path'] = 'view'
    }).toThrow(TypeError)
    expect(compileWorkflow(definition(), { registry }).snapshot).toBe(before)
    expect(JSON.parse(compiled.snapshot).tasks[0].input).toEqual({ path: 'a.txt' })
  })

  it('keeps a private copy when the schema hands the input back as is (z.any())', async () => {
    const anything = defineTool({ name: 'anything', input: z.any(), run: (input: unknown) => input })
    const engine = createEngine({ tools: [anything], builtins: false })
    const input = { s: 'x' }
    const compiled = engine.compile({ id: 'any', tasks: [{ id: 'a', tool: 'anything', input }] })
    input.s = 'changed'
    expect((await engine.run(compiled)).tasks['a']?.output).toEqual({ s: 'x' })
    expect(JSON.parse(compiled.snapshot).tasks[0].input).toEqual({ s: 'x' })
    await engine.close()
  })

  it('gives every attempt its own copy of the static input', async () => {
    const mutate = defineTool({
      name: 'mutate',
      input: z.object({ n: z.number() }),
      run: (input) => {
        const seen = input.n
        ;(input).n = 99
        return seen
      },
    })
    const engine = createEngine({ tools: [mutate], builtins: false })
    const compiled = engine.compile({ id: 'm', tasks: [{ id: 'm', tool: 'mutate', input: { n: 1 } }] })
    expect((await engine.run(compiled)).tasks['m']?.output).toBe(1)
    expect((await engine.run(compiled)).tasks['m']?.output).toBe(1)
    await engine.close()
  })

  it('leaves problems to the full compile, which words them', () => {
    const bad = {
      id: 'bad',
      tasks: [
        { id: 'a', tool: 'read', input: { path: 3 } },
        { id: 'b', tool: 'reed', input: { path: 'x' } },
        { id: 'c', tool: 'read', input: { path: 'x' }, dependsOn: ['nope'] },
        { id: 'd', tool: 'read', input: { path: 'x' }, dependsOn: ['d'] },
      ],
    }
    let error: unknown
    try {
      compileWorkflow(bad, { registry })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ValidationError)
    const messages = (error as ValidationError).issues.map((i) => `${i.taskId}: ${i.message}`)
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^a: input rejected by tool "read"/),
        expect.stringMatching(/^b: unknown tool "reed"; did you mean "read"/),
        expect.stringMatching(/^c: dependency "nope" is not a task of this workflow/),
        expect.stringMatching(/^d: task depends on itself/),
      ]),
    )
  })
})
