import { describe, expect, it } from 'vitest'
import { toTaskSpec } from './task-spec.js'

describe('toTaskSpec', () => {
  it('maps an agent task to the engine spec, reading dependency outputs through templates', () => {
    expect(toTaskSpec({ id: 'b', agentType: 'analysis', data: { x: 1 }, dependencies: ['a'], concurrencyGroup: 'llm', priority: 2, timeout: '5s' }, ['analysis'])).toEqual({
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
    expect(() => toTaskSpec({ id: 't', agentType: 'ghost', dependencies: ['bad id'], priority: 1.5 }, ['analysis'])).toThrow(
      /task "t" agentType: unknown agent type "ghost" \(known: "analysis"\)\n.*task "t" dependencies\.0: must match.*\n.*task "t" priority:/,
    )
  })
})
