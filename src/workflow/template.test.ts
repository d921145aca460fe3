import { describe, expect, it } from 'vitest'
import { parseTemplate, renderTemplate } from './template.js'
import type { TemplateScope } from './template.js'

const scope = (outputs: Record<string, unknown>, inputs: Record<string, unknown> = {}): TemplateScope => ({
  inputs,
  task: (id) => (Object.hasOwn(outputs, id) ? { status: 'succeeded', output: outputs[id] } : undefined),
  hasItem: false,
})

describe('templates', () => {
  it('parses dotted, indexed and quoted paths', () => {
    expect(parseTemplate('{{ tasks.a-b.output.items[0]["odd key"].x }}')).toEqual({
      kind: 'whole',
      ref: { expression: 'tasks.a-b.output.items[0]["odd key"].x', root: 'tasks', path: ['a-b', 'output', 'items', 0, 'odd key', 'x'] },
    })
    expect(parseTemplate('plain text')).toBeUndefined()
  })

  it('keeps types for whole references and renders objects as JSON inside text', () => {
    const s = scope({ a: { n: 3, list: [1, 2] } }, { who: 'Ada' })
    expect(renderTemplate(parseTemplate('{{ tasks.a.output.n }}')!, s)).toBe(3)
    expect(renderTemplate(parseTemplate('{{tasks.a.output.list}}')!, s)).toEqual([1, 2])
    expect(renderTemplate(parseTemplate('hi {{ inputs.who }}: {{ tasks.a.output.list }}')!, s)).toBe('hi Ada: [1,2]')
  })

  it('reads own properties only', () => {
    const s = scope({ a: { n: 1 } })
    expect(() => renderTemplate(parseTemplate('{{ tasks.a.output.toString }}')!, s)).toThrow('field "toString" is not in the output of task "a"')
    expect(() => parseTemplate('{{ tasks.a.output["__proto__"] }}')).toThrow('not allowed')
    expect(() => parseTemplate('{{ inputs.prototype }}')).toThrow('not allowed')
  })

  it('names what is missing', () => {
    const s = scope({ a: { items: [{}] } })
    expect(() => renderTemplate(parseTemplate('{{ tasks.a.output.items[0].url }}')!, s)).toThrow('{{ tasks.a.output.items[0].url }}: field "url" is not in the output of task "a"')
    expect(() => renderTemplate(parseTemplate('{{ tasks.zz.output }}')!, s)).toThrow('there is no task "zz"')
    expect(() => parseTemplate('{{ tasks.a.result }}')).toThrow('must read tasks.<id>.output or tasks.<id>.status')
  })
})
