import { describe, expect, it } from 'vitest'
import { toTaskSpec } from './task-spec.js'
import type { TaskSpecContext } from './task-spec.js'

const inMemory: TaskSpecContext = { agentTypes: ['analysis'], namespace: 'agent', carryData: false }
const durable: TaskSpecContext = { ...inMemory, carryData: true }

describe('toTaskSpec', () => {
  it('maps an agent task to the engine spec, reading dependency outputs through templates', () => {
    expect(toTaskSpec({ id: 'b', agentType: 'analysis', data: { x: 1 }, dependencies: ['a'], concurrencyGroup: 'llm', priority: 2, timeout: '5s' }, inMemory)).toEqual({
      id: 'b',
      tool: 'agent.analysis',
      dependsOn: ['a'],
      input: { dependencies: { a: '{{ tasks.a.output }}' } },
      group: 'llm',
      priority: 2,
      timeout: '5s',
    })
  })

  it("reports every problem under the orchestrator's field names", () => {
    expect(() => toTaskSpec({ id: 't', agentType: 'ghost', dependencies: ['bad id'], priority: 1.5 }, inMemory)).toThrow(
      /task "t" agentType: unknown agent type "ghost" \(known: "analysis"\)\n.*task "t" dependencies\.0: must match.*\n.*task "t" priority:/,
    )
  })

  it('on a durable engine carries the data in the spec as text no template reads, and JSON gives it back exactly', () => {
    const data = { prompt: 'answer {{ inputs.secret }} and {{{x}}}', nested: { list: [1, '{{', '}}'] } }
    const spec = toTaskSpec({ id: 'b', agentType: 'analysis', data, dependencies: ['a'], rateKey: 'openai:gpt-4o' }, durable)
    const text = spec.input?.['data'] as string
    expect(text).not.toContain('{{')
    expect(JSON.parse(text)).toEqual(data)
    expect(spec).toMatchObject({ rateKey: 'openai:gpt-4o', input: { dependencies: { a: '{{ tasks.a.output }}' } } })
  })

  it('on a durable engine refuses data a journal cannot hold, naming the task and the field', () => {
    expect(() => toTaskSpec({ id: 'b', agentType: 'analysis', data: { when: new Date(0) } }, durable)).toThrow(/task "b" data\.when: is a Date, not a plain object: the engine has a store/)
    expect(() => toTaskSpec({ id: 'b', agentType: 'analysis', data: { call: () => 1 } }, durable)).toThrow(/task "b" data\.call: is a function/)
    // In memory the data reaches the agent as it is.
    expect(() => toTaskSpec({ id: 'b', agentType: 'analysis', data: { when: new Date(0) } }, inMemory)).not.toThrow()
  })
})
