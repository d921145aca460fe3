import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../engine/engine.js'
import { workflow } from '../workflow/builder.js'
import { ManualClock } from '../testing/manual-clock.js'
import { createAgentTool } from './agent-tool.js'
import { defineAgent } from './define-agent.js'
import { AgentSessionPool } from './session-pool.js'

const counter = defineAgent({
  name: 'counter',
  description: 'Counts messages per session.',
  input: z.object({ message: z.string().transform((m) => `${m.trim()}!`) }),
  create: (sessionId) => ({ sessionId, count: 0 }),
  execute: (state: { sessionId: string; count: number }, { message }) => ({ session: state.sessionId, count: ++state.count, echo: message }),
})

describe('createAgentTool', () => {
  it('is the tool agent.<name> with { session?, input } and the agent description', () => {
    const pool = new AgentSessionPool({ agents: [counter] })
    const tool = createAgentTool(pool, 'counter')
    expect(tool.name).toBe('agent.counter')
    expect(tool.description).toBe('Counts messages per session.')
    expect(tool.input.safeParse({ session: 's', input: { message: 'hi' } }).success).toBe(true)
    expect(tool.input.safeParse({ input: { message: 3 } }).success).toBe(false)
    expect(() => createAgentTool(pool, 'ghost')).toThrow(/no agent named "ghost"/)
  })

  it('runs agents inside engine.run: sessions are shared, the default session is the run, input is parsed once', async () => {
    await using pool = new AgentSessionPool({ agents: [counter], clock: new ManualClock() })
    await using engine = createEngine({ tools: [createAgentTool(pool, 'counter')], builtins: false })
    const flow = workflow({ id: 'agents' })
      .task('first', 'agent.counter', { input: { session: 'user-1', input: { message: '  hello ' } } })
      .task('second', 'agent.counter', { input: { session: 'user-1', input: { message: '{{ tasks.first.output.echo }} again' } } })
      .task('other', 'agent.counter', { input: { session: 'user-2', input: { message: 'x' } } })
      .task('run-scoped', 'agent.counter', { input: { input: { message: 'y' } } })
      .build()
    const result = await engine.run(flow, { runId: 'run-7' })
    expect(result.status).toBe('succeeded')
    expect(result.tasks['first']!.output).toEqual({ session: 'user-1', count: 1, echo: 'hello!' })
    expect(result.tasks['second']!.output).toEqual({ session: 'user-1', count: 2, echo: 'hello! again!' })
    expect(result.tasks['other']!.output).toMatchObject({ session: 'user-2', count: 1 })
    expect(result.tasks['run-scoped']!.output).toMatchObject({ session: 'run-7', count: 1 })
    expect(pool.metrics().agents['counter']).toMatchObject({ executions: 4, instancesCreated: 3 })
  })

  it('aborts the agent execution when the task times out', async () => {
    const stuck = defineAgent({
      name: 'stuck',
      create: () => null,
      execute: (_i, _input, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
    })
    await using pool = new AgentSessionPool({ agents: [stuck] })
    await using engine = createEngine({ tools: [createAgentTool(pool, 'stuck')], builtins: false })
    const flow = workflow({ id: 'timeout' }).task('wait', 'agent.stuck', { input: { session: 's', input: null }, timeout: 50 }).build()
    const result = await engine.run(flow)
    expect(result.tasks['wait']).toMatchObject({ status: 'failed', error: { code: 'TW_TIMEOUT' } })
    // The task settles on the abort itself; the pool counts the execution once the agent returns.
    await new Promise((resolve) => setImmediate(resolve))
    expect(pool.metrics().agents['stuck']).toMatchObject({ executions: 1, failures: 1 })
  })
})
