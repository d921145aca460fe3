import { describe, expect, it } from 'vitest'
import { parseTemplate } from '../../workflow/template.js'
import { prefixTasks } from './prefix.js'

describe('prefixTasks', () => {
  it('prefixes ids, dependsOn and task references in templates, leaving other references alone', () => {
    const tasks = prefixTasks(
      [
        { id: 'a', tool: 't', input: { text: 'x' } },
        {
          id: 'b',
          tool: 't',
          dependsOn: ['a', 'outside'],
          input: {
            whole: '{{ tasks.a.output }}',
            text: 'A={{tasks.a.output.items[0]["odd key"]}}, status {{ tasks.a.status }}; other {{ tasks.outside.output }} {{ inputs.x }}',
            list: [{ deep: '{{ tasks.a.output.name }}' }, 3, null, true],
          },
        },
      ],
      'p-',
    )
    expect(tasks.map((t) => t.id)).toEqual(['p-a', 'p-b'])
    expect(tasks[1]?.dependsOn).toEqual(['p-a', 'outside'])
    expect(tasks[1]?.input).toEqual({
      whole: '{{ tasks.p-a.output }}',
      text: 'A={{ tasks.p-a.output.items[0]["odd key"] }}, status {{ tasks.p-a.status }}; other {{ tasks.outside.output }} {{ inputs.x }}',
      list: [{ deep: '{{ tasks.p-a.output.name }}' }, 3, null, true],
    })
    expect(tasks[0]).toEqual({ id: 'p-a', tool: 't', input: { text: 'x' } })
  })

  it('writes references the template parser reads as the same path', () => {
    const [, b] = prefixTasks([{ id: 'a' }, { id: 'b', input: { v: '{{ tasks["a"].output["quote\\"d"][2].x$ }}' } }], 'run_')
    const parsed = parseTemplate((b?.input as { v: string }).v)
    expect(parsed).toMatchObject({ kind: 'whole', ref: { root: 'tasks', path: ['run_a', 'output', 'quote"d', 2, 'x$'] } })
  })

  it('keeps a "__proto__" key an ordinary key, and leaves strings without templates as they are', () => {
    const input = JSON.parse('{"__proto__": {"v": "{{ tasks.a.output }}"}, "plain": "no {template"}') as Record<string, unknown>
    const [task] = prefixTasks([{ id: 'a', input }], 'x')
    expect(Object.getPrototypeOf(task?.input)).toBe(Object.prototype)
    expect(Object.hasOwn(task?.input ?? {}, '__proto__')).toBe(true)
    expect(JSON.stringify(task?.input)).toBe('{"__proto__":{"v":"{{ tasks.xa.output }}"},"plain":"no {template"}')
  })
})
