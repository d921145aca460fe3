import { describe, expect, it } from 'vitest'
import { TaskweaveError } from '../../core/errors.js'
import { createEngine } from '../../engine/engine.js'
import { MemoryRunStore } from '../../stores/memory.js'
import { ManualClock } from '../../testing/manual-clock.js'
import { inAnotherProcess, rejection } from '../../../test/helpers.js'
import { WorkflowOrchestrator } from './orchestrator.js'
import type { AgentContext, AgentData, TaskCompleteListener } from './types.js'

/** The agents of a research workflow; `write` waits for its signal while `hold` is set. Counts calls per task. */
function researchAgents(hold: boolean) {
  const calls = new Map<string, number>()
  const seen = new Map<string, AgentData>()
  const note = (data: AgentData, ctx: AgentContext): void => {
    calls.set(ctx.taskId, (calls.get(ctx.taskId) ?? 0) + 1)
    seen.set(ctx.taskId, data)
  }
  const agents = {
    plan: (data: AgentData, ctx: AgentContext) => {
      note(data, ctx)
      return { steps: ['gather', 'check'] }
    },
    step: (data: AgentData, ctx: AgentContext) => {
      note(data, ctx)
      return { did: data['step'], after: Object.keys(ctx.dependencies) }
    },
    write: (data: AgentData, ctx: AgentContext) => {
      note(data, ctx)
      if (hold) return new Promise<never>(() => undefined)
      return { report: `${String(data['title'])}: ${Object.keys(ctx.dependencies).join(', ')}` }
    },
  }
  return { agents, calls, seen }
}

/** Adds one task per planned step, each after the one before, then nothing: the seed's dynamic planning. */
const addSteps: TaskCompleteListener = (result, run) => {
  const { steps } = result.output as { steps: string[] }
  steps.forEach((step, k) => run.addTask({ id: `step_${k}`, agentType: 'step', data: { step }, ...(k > 0 ? { dependencies: [`step_${k - 1}`] } : {}) }))
}

const untilStarted = (orchestrator: WorkflowOrchestrator, taskId: string): Promise<void> =>
  new Promise((resolve) => {
    const off = orchestrator.engine.events.on('task:started', (event) => {
      if (event.taskId !== taskId) return
      off()
      resolve()
    })
  })

describe('WorkflowOrchestrator on an engine with a store: checkpointing and resumption', () => {
  it('resumes a run another process left unfinished: finished tasks are not run again, added tasks and every task data come back', async () => {
    const store = new MemoryRunStore()
    // The first process: its engine stays up, but its `write` never returns (it "died" there).
    const first = researchAgents(true)
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false })
    const orchestrator1 = new WorkflowOrchestrator({ engine: engine1, name: 'research', agents: first.agents, dynamicTasks: true })
    orchestrator1.onTaskComplete('plan', addSteps)
    // Data with text a template would read: it must reach the agent as written, in both processes.
    orchestrator1.addTask({ id: 'plan', agentType: 'plan', data: { topic: 'costs of {{ inputs.secret }}' } })
    orchestrator1.addTask({ id: 'write', agentType: 'write', data: { title: 'Report {{x}}' }, dependencies: ['plan'] })
    const writing = untilStarted(orchestrator1, 'write')
    void orchestrator1.executeWorkflow({ runId: 'research-1' })
    await writing
    // write's start reaches the store with the next commit.
    while (!(await store.load('research-1'))?.entries.some((e) => e.kind === 'start' && e.taskId === 'write')) await new Promise((resolve) => setImmediate(resolve))
    expect(first.seen.get('plan')).toEqual({ topic: 'costs of {{ inputs.secret }}' })

    // The next process: the same orchestrator (name, agents, handler) on the same store.
    const second = researchAgents(false)
    const engine2 = createEngine({ store, builtins: false })
    const orchestrator2 = new WorkflowOrchestrator({ engine: engine2, name: 'research', agents: second.agents, dynamicTasks: true })
    orchestrator2.onTaskComplete('plan', addSteps)
    expect((await store.list({ status: 'running', labels: { orchestrator: 'research' } })).map((run) => run.runId)).toEqual(['research-1'])
    const result = await orchestrator2.resumeWorkflow('research-1')

    expect(result.status).toBe('succeeded')
    expect(result.handlerErrors).toEqual([])
    // What had finished is not run again; the attempt that was running when the process died is.
    expect(Object.fromEntries(second.calls)).toEqual({ write: 1 })
    expect(second.seen.get('write')).toEqual({ title: 'Report {{x}}' })
    expect(result.results).toEqual({
      plan: { steps: ['gather', 'check'] },
      step_0: { did: 'gather', after: [] },
      step_1: { did: 'check', after: ['step_0'] },
      write: { report: 'Report {{x}}: plan' },
    })
    expect(result.report.tasks['step_1']?.addedBy).toBe('plan')
    await engine2.close()
    await engine1.close()
  })

  it('refuses data a journal cannot hold at addTask, naming the task and the field', () => {
    const engine = createEngine({ store: new MemoryRunStore(), builtins: false })
    const orchestrator = new WorkflowOrchestrator({ engine, name: 'research', agents: { plan: () => 1 } })
    expect(() => orchestrator.addTask({ id: 'plan', agentType: 'plan', data: { when: new Date(0) } })).toThrow(/task "plan" data\.when: is a Date, not a plain object: the engine has a store/)
  })

  it('resumeWorkflow is refused without a store, while a workflow runs, and for a run that finished', async () => {
    const plain = new WorkflowOrchestrator({ agents: { plan: () => 1 } })
    expect(await rejection(plain.resumeWorkflow('r'))).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining('needs an engine with a store') as unknown })
    const engine = createEngine({ store: new MemoryRunStore(), builtins: false })
    const orchestrator = new WorkflowOrchestrator({ engine, name: 'research', agents: { plan: () => 1 } })
    orchestrator.addTask({ id: 'plan', agentType: 'plan' })
    expect((await orchestrator.executeWorkflow({ runId: 'done-1' })).status).toBe('succeeded')
    const finished = await rejection(orchestrator.resumeWorkflow('done-1'))
    expect(finished).toBeInstanceOf(TaskweaveError)
    expect(finished).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining('has finished') as unknown })
    await engine.close()
  })

  it('a run started by an orchestrator of another name is refused before anything resumes, and so is an orchestrator without a name', async () => {
    const store = new MemoryRunStore()
    const engine1 = createEngine({ store: inAnotherProcess(store), builtins: false })
    const writer = new WorkflowOrchestrator({ engine: engine1, name: 'writer', agents: { write: () => new Promise<never>(() => undefined) } })
    writer.addTask({ id: 'w', agentType: 'write' })
    const started = untilStarted(writer, 'w')
    void writer.executeWorkflow({ runId: 'w-1' })
    await started
    while (!(await store.load('w-1'))?.entries.some((e) => e.kind === 'start')) await new Promise((resolve) => setImmediate(resolve))
    const engine2 = createEngine({ store, builtins: false })
    const other = new WorkflowOrchestrator({ engine: engine2, name: 'reader', agents: { write: () => 1 } })
    expect(await rejection(other.resumeWorkflow('w-1'))).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining('run "w-1" belongs to orchestrator "writer", not to "reader"') as unknown })
    expect(other.isRunning).toBe(false)
    const unnamed = new WorkflowOrchestrator({ engine: engine2, agents: { write: () => 1 } })
    expect(await rejection(unnamed.resumeWorkflow('w-1'))).toMatchObject({ code: 'TW_INVALID_STATE', message: expect.stringContaining('needs an orchestrator with a name') as unknown })
    // The run is untouched: its own orchestrator still resumes it, and a task added while the
    // store is being read is refused rather than lost.
    const writerAgain = new WorkflowOrchestrator({ engine: engine2, name: 'writer', agents: { write: () => 'written' }, dynamicTasks: true })
    const resuming = writerAgain.resumeWorkflow('w-1')
    expect(() => writerAgain.addTask({ id: 'extra', agentType: 'write' })).toThrow(expect.objectContaining({ code: 'TW_INVALID_STATE', message: expect.stringContaining('is being resumed') as unknown }))
    expect(writerAgain.tasks).toEqual([])
    expect((await resuming).results).toEqual({ w: 'written' })
    await engine2.close()
    await engine1.close()
  })
})

describe('WorkflowOrchestrator: rate keys, default retry and timeout', () => {
  it('spaces the tasks that share a rate key by the orchestrator rates, and gives every task the default retry', async () => {
    const clock = new ManualClock()
    const starts: number[] = []
    let failuresLeft = 1
    const orchestrator = new WorkflowOrchestrator({
      clock,
      agents: {
        llm: () => {
          starts.push(clock.now())
          if (failuresLeft-- > 0) throw new TaskweaveError('TW_TRANSIENT', 'provider busy', { retryable: true })
          return 'ok'
        },
      },
      rates: { 'provider:model': { requests: '2/s', concurrent: 10 } },
      defaultRetry: { maxAttempts: 2, initialDelay: 0, jitter: 'none' },
      defaultTimeout: '1m',
    })
    for (let k = 0; k < 4; k++) orchestrator.addTask({ id: `call_${k}`, agentType: 'llm', rateKey: 'provider:model' })
    const running = orchestrator.executeWorkflow()
    for (let k = 0; k < 100 && starts.length < 5; k++) {
      await new Promise((resolve) => setImmediate(resolve))
      clock.advance(100)
    }
    const result = await running
    expect(result.status).toBe('succeeded')
    // Five attempts (one retried) under 2 a second with a burst of 2: the later ones at least 500 ms apart.
    expect(starts).toHaveLength(5)
    const last = starts[4] as number
    expect(last - (starts[0] as number)).toBeGreaterThanOrEqual(1_500)
    expect(result.report.tasks['call_0']?.attempts).toBe(2)
  })

  it('refuses a bad rate table or default at construction, naming the option', () => {
    expect(() => new WorkflowOrchestrator({ agents: { a: () => 1 }, rates: { k: { requests: 'many' } } })).toThrow(/rates\.k/)
    expect(() => new WorkflowOrchestrator({ agents: { a: () => 1 }, defaultRetry: { maxAttempts: 0 } })).toThrow(/option "defaultRetry\.maxAttempts"/)
    expect(() => new WorkflowOrchestrator({ agents: { a: () => 1 }, defaultTimeout: 'soon' })).toThrow(/option "defaultTimeout"/)
    expect(() => new WorkflowOrchestrator({ agents: { a: () => 1 }, name: 'has space' })).toThrow(/option "name"/)
  })
})

describe('WorkflowOrchestrator: autoscale (the seed\'s "dynamic scaling based on system load")', () => {
  it('gives its own engine load-aware scaling up to maxConcurrentTasks, and is refused beside an engine of the caller', async () => {
    const orchestrator = new WorkflowOrchestrator({ agents: { a: () => 1 }, maxConcurrentTasks: 6, autoscale: { maxEventLoopLagMs: 200 } })
    expect(orchestrator.engine.stats().autoscale).toMatchObject({ capacity: 6, max: 6 })
    await orchestrator.engine.close()
    const engine = createEngine({ builtins: false })
    expect(() => new WorkflowOrchestrator({ engine, agents: { a: () => 1 }, autoscale: true })).toThrow(/option "autoscale" must be left out when an engine is given/)
    await engine.close()
  })
})
