import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { CompileCache, MAX_CACHED_TASKS } from './compile-cache.js'
import { compileWorkflow } from './compile.js'
import type { CompiledWorkflow } from './compile.js'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import { ValidationError } from '../core/errors.js'
import { createEngine } from '../engine/engine.js'

const echo = defineTool({ name: 'echo', input: z.object({ text: z.string().optional() }), run: (input) => input.text ?? '' })
const registry = new ToolRegistry([echo])

function diamond(text = 'hi'): { id: string; tasks: { id: string; tool: string; input?: { text: string }; dependsOn?: string[] }[] } {
  return {
    id: 'diamond',
    tasks: [
      { id: 'a', tool: 'echo', input: { text } },
      { id: 'b', tool: 'echo', dependsOn: ['a'] },
      { id: 'c', tool: 'echo', dependsOn: ['a', 'b'] },
    ],
  }
}

/** A cache and a count of the compiles it asked for. */
function counted(capacity?: number): { cache: CompileCache; compile: (definition: unknown) => CompiledWorkflow; compiles: () => number } {
  const cache = new CompileCache(capacity)
  let compiles = 0
  return {
    cache,
    compile: (definition) =>
      cache.get(definition, () => {
        compiles++
        return compileWorkflow(definition, { registry })
      }),
    compiles: () => compiles,
  }
}

describe('CompileCache', () => {
  it('compiles a definition once per text, whatever object it comes in', () => {
    const { compile, compiles } = counted()
    const first = compile(diamond())
    const again = compile(diamond())
    expect(again).toBe(first)
    expect(compiles()).toBe(1)
    // Another text is another workflow.
    const other = compile(diamond('bye'))
    expect(other).not.toBe(first)
    expect(other.shapes[0]?.staticInput?.value).toEqual({ text: 'bye' })
    expect(compiles()).toBe(2)
  })

  it('sees a definition changed after it was compiled as a new one', () => {
    const { compile, compiles } = counted()
    const definition = diamond()
    const first = compile(definition)
    ;(definition.tasks[0] as { input: { text: string } }).input.text = 'changed'
    const second = compile(definition)
    expect(second).not.toBe(first)
    expect(compiles()).toBe(2)
    expect(first.shapes[0]?.staticInput?.value).toEqual({ text: 'hi' })
    expect(second.shapes[0]?.staticInput?.value).toEqual({ text: 'changed' })
  })

  it('keeps no failure: an invalid definition is compiled, and refused, every time', () => {
    const { cache, compile, compiles } = counted()
    const bad = { id: 'w', tasks: [{ id: 'a', tool: 'nope' }] }
    expect(() => compile(bad)).toThrow(ValidationError)
    expect(() => compile(bad)).toThrow(ValidationError)
    expect(compiles()).toBe(2)
    expect(cache.size).toBe(0)
  })

  it('compiles large definitions, and ones that are not JSON, every time', () => {
    const { cache, compile, compiles } = counted()
    const large = { id: 'big', tasks: Array.from({ length: MAX_CACHED_TASKS + 1 }, (_, i) => ({ id: `t${i}`, tool: 'echo' })) }
    compile(large)
    compile(large)
    expect(compiles()).toBe(2)
    const bigint = { id: 'w', tasks: [{ id: 'a', tool: 'echo', input: { text: 1n } }] }
    expect(() => compile(bigint)).toThrow(/BigInt/)
    expect(compiles()).toBe(3)
    expect(cache.size).toBe(0)
  })

  it('drops the least recently used definition past its capacity', () => {
    const { cache, compile, compiles } = counted(2)
    compile(diamond('1'))
    compile(diamond('2'))
    compile(diamond('1')) // 1 is now the most recent
    compile(diamond('3')) // evicts 2
    expect(cache.size).toBe(2)
    expect(compiles()).toBe(3)
    compile(diamond('1'))
    expect(compiles()).toBe(3)
    compile(diamond('2'))
    expect(compiles()).toBe(4)
  })

  it('keeps the order right when the newest definition is hit again and again', () => {
    const { compile, compiles } = counted(2)
    compile(diamond('1'))
    compile(diamond('2'))
    compile(diamond('2')) // already the newest
    compile(diamond('2'))
    compile(diamond('3')) // evicts 1, the least recently used
    expect(compiles()).toBe(3)
    compile(diamond('2'))
    compile(diamond('3'))
    expect(compiles()).toBe(3)
    compile(diamond('1'))
    expect(compiles()).toBe(4)
  })
})

describe('engine runs of a cached definition', () => {
  it('are independent runs that each see the definition as it was when they started', async () => {
    const engine = createEngine({ builtins: false, tools: [echo] })
    const definition = diamond('one')
    const first = engine.start(definition)
    ;(definition.tasks[0] as { input: { text: string } }).input.text = 'two'
    const second = engine.start(definition)
    const third = engine.start(diamond('one'))
    const [r1, r2, r3] = await Promise.all([first.result, second.result, third.result])
    expect([r1.tasks['a']?.output, r2.tasks['a']?.output, r3.tasks['a']?.output]).toEqual(['one', 'two', 'one'])
    expect(new Set([r1.runId, r2.runId, r3.runId]).size).toBe(3)
    expect(r1.status).toBe('succeeded')
    await engine.close()
  })
})

describe('CompileCache without writing the text', () => {
  it('finds a definition equal value by value, in the same key order, without a new compile', () => {
    const { compile, compiles } = counted()
    const first = compile(diamond())
    expect(compile(diamond())).toBe(first)
    expect(compiles()).toBe(1)
  })

  it('tells apart definitions that differ only in key order, a value, a length or a nested value', () => {
    const { compile, compiles } = counted()
    const first = compile(diamond())
    const reordered = diamond()
    reordered.tasks[0] = { tool: 'echo', id: 'a', input: { text: 'hi' } }
    expect(compile(reordered)).not.toBe(first)
    const deeper = diamond()
    ;(deeper.tasks[2] as { dependsOn: string[] }).dependsOn = ['a']
    expect(compile(deeper)).not.toBe(first)
    const longer = diamond()
    longer.tasks.push({ id: 'd', tool: 'echo' })
    expect(compile(longer)).not.toBe(first)
    const other = diamond('ho')
    expect(compile(other)).not.toBe(first)
    expect(compiles()).toBe(5)
    // Each is now cached in its turn.
    expect(compile(diamond('ho'))).toBe(compile(other))
    expect(compiles()).toBe(5)
  })

  it('tells apart values JSON writes differently: an array and an object of the same entries, null and {}, 1 and "1", an extra key', () => {
    const cache = new CompileCache()
    let compiles = 0
    const get = (definition: unknown): CompiledWorkflow => cache.get(definition, () => ({ n: ++compiles }) as unknown as CompiledWorkflow)
    const withInput = (x: unknown): unknown => ({ id: 'w', tasks: [{ id: 'a', tool: 'echo', input: { x } }] })
    const variants: unknown[] = [['p', 'q'], { 0: 'p', 1: 'q' }, null, {}, [], 1, '1', true, { y: 1 }, { y: 1, z: 2 }, [[1]], [{}]]
    const first = variants.map((v) => get(withInput(v)))
    expect(compiles).toBe(variants.length)
    // Each is found again as a new object with the same text.
    variants.forEach((v, i) => expect(get(withInput(structuredClone(v)))).toBe(first[i]))
    expect(compiles).toBe(variants.length)
  })

  it('treats what JSON writes in its own way as the text does: an undefined value is left out, toJSON is called', () => {
    const { compile, compiles } = counted()
    const first = compile(diamond())
    const withUndefined: ReturnType<typeof diamond> & { description?: string | undefined } = diamond()
    withUndefined.description = undefined
    // Same text (JSON leaves the key out): the text path finds it.
    expect(compile(withUndefined)).toBe(first)
    const withToJson = { ...diamond(), tasks: diamond().tasks.map((t, i) => (i === 0 ? { ...t, input: { text: { toJSON: () => 'hi' } } } : t)) }
    // Its text is the diamond's: the same workflow, found through the text.
    expect(JSON.stringify(withToJson)).toBe(JSON.stringify(diamond()))
    expect(compile(withToJson)).toBe(first)
    expect(compiles()).toBe(1)
  })

  it('never takes an array with toJSON, or a Proxy, for the cached definition it looks like', () => {
    const { compile, compiles } = counted()
    const first = compile(diamond())
    const arrayWithToJson = diamond()
    ;(arrayWithToJson.tasks[2] as { dependsOn: string[] }).dependsOn = Object.assign(['a', 'b'], { toJSON: () => ['a'] })
    expect(compile(arrayWithToJson)).not.toBe(first)
    const proxied = diamond()
    ;(proxied.tasks[0] as { input: unknown }).input = new Proxy({ text: 'hi' }, { get: (target, key) => (key === 'toJSON' ? () => ({ text: 'other' }) : (Reflect.get(target, key) as unknown)) })
    const viaProxy = compile(proxied)
    expect(viaProxy).not.toBe(first)
    expect(compiles()).toBe(3)
  })

  it('survives a definition whose getter throws, leaving it to the compile', () => {
    const { compile } = counted()
    compile(diamond())
    const hostile = diamond()
    Object.defineProperty(hostile, 'tasks', { enumerable: true, get: () => { throw new Error('boom') } })
    expect(() => compile(hostile)).toThrow()
  })

  it('forgets an evicted entry on both paths', () => {
    const { cache, compile, compiles } = counted(1)
    compile(diamond('1'))
    compile(diamond('2'))
    expect(cache.size).toBe(1)
    compile(diamond('1'))
    expect(compiles()).toBe(3)
  })
})
