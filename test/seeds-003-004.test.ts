/** The seed entry points 003 (WorkflowOrchestrator) and 004 (Executor), and their examples. */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { sleep } from '../src/core/clock.js'
import { TaskweaveError } from '../src/core/errors.js'
import { defineTool } from '../src/core/tool.js'
import { ToolRegistry } from '../src/core/registry.js'
import { ManualClock } from '../src/testing/manual-clock.js'
import { createTask, Executor } from '../src/seeds/executor/index.js'
import type { ProgressEvent, Task } from '../src/seeds/executor/index.js'
import { WorkflowOrchestrator } from '../src/seeds/orchestrator/index.js'
import type { AgentContext, AgentData, WorkflowResult } from '../src/seeds/orchestrator/index.js'
import { main as parallelDataProcessing } from '../examples/seeds/003-parallel-data-processing.js'
import type { Report } from '../examples/seeds/003-parallel-data-processing.js'
import { main as dynamicPlanning } from '../examples/seeds/003-dynamic-planning.js'
import type { StepOutput } from '../examples/seeds/003-dynamic-planning.js'
import { main as parallelExecutor } from '../examples/seeds/004-parallel-executor.js'
import { scriptedTools } from './helpers.js'

const context = { sessionId: 'session-1', userId: 'tester' }

function executorSetup(options: { maxWorkers?: number; monitoring?: boolean; timeout?: number } = {}) {
  const clock = new ManualClock()
  const tools = scriptedTools(clock)
  const steps = defineTool({
    name: 'test.steps',
    input: z.object({}),
    run: async (_input, ctx) => {
      ctx.progress({ message: 'loading' })
      await sleep(clock, 10, ctx.signal)
      ctx.progress({ fraction: 0.5 })
      await sleep(clock, 10, ctx.signal)
      return 'done'
    },
  })
  const executor = new Executor({
    tools: [tools.work, steps],
    clock,
    maxWorkers: options.maxWorkers ?? 4,
    ...(options.monitoring !== undefined ? { monitoring: options.monitoring } : {}),
    ...(options.timeout !== undefined ? { limits: { timeout: options.timeout } } : {}),
  })
  return { clock, tools, executor, settle: <T>(promise: Promise<T>) => clock.runUntilSettled(promise) }
}

const work = (id: string, parameters: Record<string, unknown>): Task => ({ id, toolName: 'test.work', parameters })

describe('Executor.executeParallel', () => {
  it('returns results in input order although the tasks finish in reverse order', async () => {
    const { executor, settle } = executorSetup()
    const tasks = [40, 30, 20, 10].map((ms, i) => work(`task-${i}`, { ms, value: `out-${i}` }))
    const results = await settle(executor.executeParallel(tasks, context))
    expect(results.map((r) => r.taskId)).toEqual(['task-0', 'task-1', 'task-2', 'task-3'])
    expect(results.map((r) => r.output)).toEqual(['out-0', 'out-1', 'out-2', 'out-3'])
    expect(results.map((r) => r.executionTimeMs)).toEqual([40, 30, 20, 10])
    // They really finished last-to-first: the monitor saw task-3 finish first.
    const finishedAt = executor.getAllMetrics().map((m) => m.checkpoints.find((c) => c.name === 'finished')!.at)
    expect(finishedAt).toEqual([40, 30, 20, 10])
  })

  it('isolates failures: each bad task fails in its own slot and the others succeed', async () => {
    const { executor, settle } = executorSetup()
    const results = await settle(
      executor.executeParallel(
        [
          work('ok-1', { ms: 30, value: 1 }),
          work('boom', { ms: 10, failTimes: 1, code: 'E_BOOM' }),
          { id: 'typo', toolName: 'fs.raedFile', parameters: { path: 'README.md' } },
          work('bad-input', { ms: 'soon' }),
          work('ok-2', { ms: 20, value: 2 }),
        ],
        context,
      ),
    )
    expect(results.map((r) => [r.taskId, r.success, r.error?.code])).toEqual([
      ['ok-1', true, undefined],
      ['boom', false, 'E_BOOM'],
      ['typo', false, 'TW_UNKNOWN_TOOL'],
      ['bad-input', false, 'TW_TOOL_INPUT'],
      ['ok-2', true, undefined],
    ])
    expect(results[2]!.error!.message).toMatch(/^unknown tool "fs.raedFile"; did you mean "fs.readFile"/)
    expect(results[3]!.error!.message).toContain('input.ms')
    expect(results[2]!.metadata).toEqual({ attempts: 0, retries: 0 })
  })

  it('passes parameters as data: a {{ template }} inside one stays text', async () => {
    const { executor, settle } = executorSetup()
    const [result] = await settle(executor.executeParallel([work('t', { ms: 1, value: '{{ inputs.secret }} {{ tasks.x.output }}' })], context))
    expect(result!.output).toBe('{{ inputs.secret }} {{ tasks.x.output }}')
  })

  it('runs at most maxWorkers tasks at once, across calls', async () => {
    const { executor, settle, tools } = executorSetup({ maxWorkers: 2 })
    const batch = (prefix: string) => Array.from({ length: 3 }, (_, i) => work(`${prefix}${i}`, { ms: 100 }))
    await settle(Promise.all([executor.executeParallel(batch('a'), context), executor.executeParallel(batch('b'), context)]))
    expect(tools.maxRunning).toBe(2)
  })

  it('gives each task a random id when it has none; createTask fixes one', async () => {
    const { executor, settle } = executorSetup()
    const fixed = createTask({ toolName: 'test.work', parameters: { ms: 1 } })
    const results = await settle(executor.executeParallel([{ toolName: 'test.work', parameters: { ms: 1 } }, fixed], context))
    expect(results[0]!.taskId).toMatch(/^[0-9a-f-]{36}$/)
    expect(results[1]!.taskId).toBe(fixed.id)
  })

  it('applies limits.timeout to every attempt', async () => {
    const { executor, settle } = executorSetup({ timeout: 50 })
    const [slow, quick] = await settle(executor.executeParallel([work('slow', { ms: 1000 }), work('quick', { ms: 10 })], context))
    expect(slow).toMatchObject({ success: false, error: { code: 'TW_TIMEOUT' }, executionTimeMs: 50 })
    expect(quick!.success).toBe(true)
  })

  it('rejects a context without sessionId, and bad options', async () => {
    const { executor } = executorSetup()
    await expect(executor.executeParallel([], { sessionId: '' })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
    expect(() => new Executor({ maxWorkers: 0 })).toThrow(/option "maxWorkers" must be an integer ≥ 1; received 0/)
    await expect(executor.executeWithRetry(work('t', {}), context, { maxRetries: -1 })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION' })
  })

  it('cancels every task when the signal is already aborted', async () => {
    const { executor, settle, tools } = executorSetup()
    const results = await settle(executor.executeParallel([work('a', {}), work('b', {})], context, { signal: AbortSignal.abort() }))
    expect(results.map((r) => [r.success, r.error?.code, r.metadata.attempts])).toEqual([
      [false, 'TW_CANCELLED', 0],
      [false, 'TW_CANCELLED', 0],
    ])
    expect(tools.started).toEqual([])
  })

  it('takes a registry as the whole tool set (no built-ins unless asked)', async () => {
    const clock = new ManualClock()
    const executor = new Executor({ registry: new ToolRegistry([scriptedTools(clock).work]), clock })
    expect(executor.engine.registry.names()).toEqual(['test.work'])
    const withBuiltins = new Executor({ registry: new ToolRegistry(), builtins: {} })
    expect(withBuiltins.engine.registry.names()).toContain('fs.readFile')
  })

  it('lets a tool read the session context of its call through contextOf(ctx.runId)', async () => {
    const whoami = defineTool({ name: 'test.whoami', input: z.object({}), run: (_i, ctx) => executor.contextOf(ctx.runId)?.['userId'] })
    const executor: Executor = new Executor({ tools: [whoami], builtins: false })
    const result = await executor.execute({ toolName: 'test.whoami', parameters: {} }, context)
    expect(result.output).toBe('tester')
    expect(executor.contextOf('unknown-run')).toBeUndefined()
  })
})

describe('Executor.executeTask and metrics', () => {
  it('reports started, each progress, then finished, with the session', async () => {
    const { executor, settle } = executorSetup()
    const seen: string[] = []
    const result = await settle(
      executor.executeTask({ id: 'p', planId: 'plan-1', toolName: 'test.steps', parameters: {} }, context, {
        onProgress: (event, data) => {
          expect(data).toMatchObject({ taskId: 'p', sessionId: 'session-1', planId: 'plan-1' })
          expect(data.event).toBe(event)
          if (data.event === 'progress') seen.push(`progress ${data.message ?? data.fraction}@${data.at}`)
          else if (data.event === 'finished') seen.push(`finished ${data.result.success}@${data.at}`)
          else seen.push(`${event}@${data.at}`)
        },
      }),
    )
    expect(result.output).toBe('done')
    expect(seen).toEqual(['started@0', 'progress loading@0', 'progress 0.5@10', 'finished true@20'])
  })

  it('a throwing progress listener does not change the outcome', async () => {
    const { executor, settle } = executorSetup()
    const result = await settle(
      executor.executeTask(work('t', { ms: 5 }), context, {
        onProgress: () => {
          throw new Error('listener bug')
        },
      }),
    )
    expect(result.success).toBe(true)
  })

  it('records named checkpoints per task while monitoring is on', async () => {
    const { executor, settle } = executorSetup()
    await settle(executor.executeTask({ id: 'p', toolName: 'test.steps', parameters: {} }, context))
    await settle(executor.executeWithRetry(work('r', { ms: 5, failTimes: 1 }), context, { maxRetries: 1, retryDelay: 100 }))
    const metrics = executor.getAllMetrics()
    expect(metrics.map((m) => [m.taskId, m.toolName, m.executionTimeMs])).toEqual([
      ['p', 'test.steps', 20],
      ['r', 'test.work', 110],
    ])
    expect(metrics[0]!.checkpoints).toEqual([
      { name: 'queued', at: 0 },
      { name: 'started', at: 0, attempt: 1 },
      { name: 'progress: loading', at: 0, attempt: 1 },
      { name: 'progress 50%', at: 10, attempt: 1 },
      { name: 'finished', at: 20 },
    ])
    expect(metrics[1]!.checkpoints.map((c) => `${c.name}${c.attempt ?? ''}`)).toEqual(['queued', 'started1', 'retrying1', 'started2', 'finished'])
    executor.clearMetrics()
    expect(executor.getAllMetrics()).toEqual([])
  })

  it('records nothing when monitoring is off', async () => {
    const { executor, settle } = executorSetup({ monitoring: false })
    await settle(executor.executeTask(work('t', { ms: 5 }), context))
    expect(executor.getAllMetrics()).toEqual([])
  })
})

describe('Executor.executeWithRetry', () => {
  it('retries with the delay before the first retry, doubling, and counts the retries', async () => {
    const { executor, settle } = executorSetup()
    const events: ProgressEvent[] = []
    const result = await settle(
      executor.executeWithRetry(work('flaky', { ms: 10, failTimes: 2, value: 'finally' }), context, { maxRetries: 3, retryDelay: 100, onProgress: (event) => events.push(event) }),
    )
    expect(result).toMatchObject({ success: true, output: 'finally', metadata: { attempts: 3, retries: 2, retryExhausted: false } })
    expect(result.executionTimeMs).toBe(10 + 100 + 10 + 200 + 10) // no jitter: 100 ms, then 200 ms
    expect(events).toEqual(['started', 'retrying', 'started', 'retrying', 'started', 'finished'])
  })

  it('says retryExhausted when every attempt failed', async () => {
    const { executor, settle } = executorSetup()
    const result = await settle(executor.executeWithRetry(work('down', { ms: 1, failTimes: 99, code: 'ECONNRESET' }), context, { maxRetries: 2, retryDelay: '1s' }))
    expect(result).toMatchObject({ success: false, error: { code: 'ECONNRESET' }, metadata: { attempts: 3, retries: 2, retryExhausted: true } })
  })

  it('stops at once on a non-retryable error, without exhausting the retries', async () => {
    const { executor, settle } = executorSetup()
    const result = await settle(executor.executeWithRetry(work('bad', { ms: 1, failTimes: 99, retryable: false }), context, { maxRetries: 5 }))
    expect(result.metadata).toEqual({ attempts: 1, retries: 0, retryExhausted: false })
  })
})

describe('Executor cancellation and shutdown', () => {
  it('execute: aborting the signal cancels the running task', async () => {
    const { executor, clock, settle } = executorSetup()
    const controller = new AbortController()
    clock.setTimer(50, () => controller.abort(new Error('user pressed stop')))
    const result = await settle(executor.execute(work('long', { ms: 10_000 }), context, { signal: controller.signal }))
    expect(result).toMatchObject({ success: false, error: { code: 'TW_CANCELLED', message: 'user pressed stop' }, metadata: { attempts: 1 } })
  })

  it('executeParallel: an abort cancels running and queued tasks but keeps finished results', async () => {
    const { executor, clock, settle } = executorSetup({ maxWorkers: 2 })
    const controller = new AbortController()
    clock.setTimer(50, () => controller.abort())
    // Two workers: "fast" and "slow" start; "next" takes the slot "fast" frees at 10 ms; "queued" waits.
    const tasks = [work('fast', { ms: 10 }), work('slow', { ms: 1000 }), work('next', { ms: 1000 }), work('queued', { ms: 1 })]
    const results = await settle(executor.executeParallel(tasks, context, { signal: controller.signal }))
    expect(results.map((r) => [r.taskId, r.success, r.error?.code ?? null, r.metadata.attempts])).toEqual([
      ['fast', true, null, 1],
      ['slow', false, 'TW_CANCELLED', 1],
      ['next', false, 'TW_CANCELLED', 1],
      ['queued', false, 'TW_CANCELLED', 0],
    ])
  })

  it("shutdown({ mode: 'drain' }) lets running calls finish and refuses new ones", async () => {
    const { executor, settle } = executorSetup()
    const running = executor.executeParallel([work('a', { ms: 100 }), work('b', { ms: 200 })], context)
    const closing = executor.shutdown({ mode: 'drain' })
    expect(executor.state).toBe('draining')
    await expect(executor.execute(work('late', { ms: 1 }), context)).rejects.toMatchObject({ code: 'TW_CANCELLED' })
    await settle(closing)
    expect(executor.state).toBe('closed')
    expect((await running).map((r) => r.success)).toEqual([true, true])
    expect(executor.shutdown()).toBe(executor.shutdown()) // idempotent
  })

  it("shutdown({ mode: 'cancel' }) cancels running calls, and escalates a drain", async () => {
    const { executor, settle } = executorSetup()
    const running = executor.executeParallel([work('a', { ms: 100 }), work('b', { ms: 10_000 })], context)
    const draining = executor.shutdown()
    const cancelling = executor.shutdown({ mode: 'cancel' })
    await settle(Promise.all([draining, cancelling]))
    const results = await running
    expect(results.map((r) => r.error?.code)).toEqual(['TW_CANCELLED', 'TW_CANCELLED'])
    expect(results[0]!.error!.message).toBe('the executor is shutting down')
  })

  it('await using drains the executor when the block ends', async () => {
    const clock = new ManualClock()
    const tools = scriptedTools(clock)
    let pending: Promise<unknown> | undefined
    let disposed: Executor | undefined
    const block = async (): Promise<void> => {
      await using executor = new Executor({ tools: [tools.work], builtins: false, clock })
      disposed = executor
      pending = executor.executeParallel([work('left-running', { ms: 500, value: 'kept' })], context) // not awaited in the block
    }
    await clock.runUntilSettled(block())
    expect(disposed!.state).toBe('closed')
    expect(await pending).toMatchObject([{ success: true, output: 'kept', executionTimeMs: 500 }])
  })
})

// ------------------------------------------------------------------ orchestrator

function orchestratorSetup(options: Partial<ConstructorParameters<typeof WorkflowOrchestrator>[0]> = {}) {
  const clock = new ManualClock()
  const log: { id: string; start: number; end: number }[] = []
  const running = new Map<string, number>()
  let now = 0
  let max = 0
  const track = (group: string) => {
    now++
    max = Math.max(max, now)
    const count = (running.get(group) ?? 0) + 1
    running.set(group, count)
    return () => {
      now--
      running.set(group, (running.get(group) ?? 1) - 1)
    }
  }
  const maxByGroup = new Map<string, number>()
  // Works for data.ms on the manual clock; returns its data and what it received from dependencies.
  const worker = async (data: AgentData, ctx: AgentContext) => {
    const group = typeof data['group'] === 'string' ? data['group'] : '-'
    const done = track(group)
    maxByGroup.set(group, Math.max(maxByGroup.get(group) ?? 0, running.get(group) ?? 0))
    const start = clock.now()
    try {
      await sleep(clock, Number(data['ms'] ?? 10), ctx.signal)
      if (data['fail'] === true) throw new TaskweaveError('E_AGENT', `agent failed on ${ctx.taskId}`)
      return { id: ctx.taskId, data, dependencies: ctx.dependencies }
    } finally {
      log.push({ id: ctx.taskId, start, end: clock.now() })
      done()
    }
  }
  const orchestrator = new WorkflowOrchestrator({ agents: { worker, ...options.agents }, clock, ...options })
  const execute = (opts: Parameters<WorkflowOrchestrator['executeWorkflow']>[0] = {}) => clock.runUntilSettled(orchestrator.executeWorkflow(opts))
  return { clock, orchestrator, execute, log, get maxRunning() { return max }, maxByGroup }
}

describe('WorkflowOrchestrator', () => {
  it('runs independent tasks in parallel and gives each task its dependencies’ outputs', async () => {
    const { orchestrator, execute } = orchestratorSetup()
    orchestrator
      .addTask({ id: 'a', agentType: 'worker', data: { ms: 30 } })
      .addTask({ id: 'b', agentType: 'worker', data: { ms: 10 } })
      .addTask({ id: 'c', agentType: 'worker', data: { ms: 5, note: '{{ tasks.a.output }}' }, dependencies: ['a', 'b'] })
    const result = await execute()
    expect(result.status).toBe('succeeded')
    expect(result.report.durationMs).toBe(35)
    const c = result.results['c'] as { data: unknown; dependencies: Record<string, { id: string }> }
    expect(c.data).toEqual({ ms: 5, note: '{{ tasks.a.output }}' }) // data is data, never a template
    expect(Object.keys(c.dependencies)).toEqual(['a', 'b'])
    expect(c.dependencies['a']!.id).toBe('a')
  })

  it('caps each concurrency group and the whole run', async () => {
    const setup = orchestratorSetup({ maxConcurrentTasks: 3, concurrencyLimits: { llm: 2 } })
    for (let i = 0; i < 6; i++) setup.orchestrator.addTask({ id: `llm${i}`, agentType: 'worker', data: { ms: 100, group: 'llm' }, concurrencyGroup: 'llm' })
    for (let i = 0; i < 3; i++) setup.orchestrator.addTask({ id: `io${i}`, agentType: 'worker', data: { ms: 100, group: 'io' } })
    const result = await setup.execute()
    expect(result.status).toBe('succeeded')
    expect(setup.maxByGroup.get('llm')).toBe(2)
    expect(setup.maxRunning).toBe(3)
  })

  it('parallelExecution: false runs one task at a time, by dependencies then priority', async () => {
    const setup = orchestratorSetup({ parallelExecution: false, maxConcurrentTasks: 8 })
    const { orchestrator, execute, log } = setup
    orchestrator
      .addTask({ id: 'low1', agentType: 'worker', data: { ms: 10 } })
      .addTask({ id: 'high', agentType: 'worker', data: { ms: 20 }, priority: 5 })
      .addTask({ id: 'low2', agentType: 'worker', data: { ms: 5 } })
      .addTask({ id: 'mid', agentType: 'worker', data: { ms: 15 }, priority: 1 })
      .addTask({ id: 'after-low1', agentType: 'worker', data: { ms: 5 }, dependencies: ['low1'], priority: 9 })
    const result = await execute()
    expect(result.status).toBe('succeeded')
    expect(setup.maxRunning).toBe(1)
    expect(log.map((e) => e.id)).toEqual(['high', 'mid', 'low1', 'after-low1', 'low2'])
    const intervals = [...log].sort((x, y) => x.start - y.start)
    for (let i = 1; i < intervals.length; i++) expect(intervals[i]!.start).toBeGreaterThanOrEqual(intervals[i - 1]!.end)
    expect(result.report.durationMs).toBe(10 + 20 + 5 + 15 + 5)
  })

  it('accepts an agent object with process(data, ctx)', async () => {
    const agent = { prefix: 'hello', process(data: AgentData) { return `${this.prefix} ${String(data['name'])}` } }
    const orchestrator = new WorkflowOrchestrator({ agents: { greeter: agent } })
    orchestrator.addTask({ id: 'g', agentType: 'greeter', data: { name: 'Ada' } })
    expect((await orchestrator.executeWorkflow()).results['g']).toBe('hello Ada')
  })

  it('validates tasks eagerly, naming the task', () => {
    const { orchestrator } = orchestratorSetup()
    expect(() => orchestrator.addTask({ id: 'x1', agentType: 'planner' })).toThrow(/task "x1" agentType: unknown agent type "planner" \(known: "worker"\)/)
    expect(() => orchestrator.addTask({ id: 'bad id', agentType: 'worker' })).toThrow(/task "bad id" id: must match/)
    expect(() => orchestrator.addTask({ id: 'g', agentType: 'worker', concurrencyGroup: 'no spaces' })).toThrow(/task "g" concurrencyGroup: must match/)
    orchestrator.addTask({ id: 'once', agentType: 'worker' })
    expect(() => orchestrator.addTask({ id: 'once', agentType: 'worker' })).toThrow(/duplicate task id "once"/)
    try {
      orchestrator.addTask({ id: 'x2', agentType: 'nope' })
    } catch (err) {
      expect(TaskweaveError.is(err, 'TW_VALIDATION')).toBe(true)
    }
    expect(() => new WorkflowOrchestrator({ agents: { 'bad type!': () => 1 } })).toThrow(/option "agents.bad type!"/)
    expect(() => new WorkflowOrchestrator({ agents: {}, concurrencyLimits: { llm: 0 } })).toThrow(/option "concurrencyLimits.llm" must be an integer ≥ 1/)
  })

  it('checks dependencies when the workflow starts, and refuses an empty or concurrent run', async () => {
    const { orchestrator, clock } = orchestratorSetup()
    await expect(orchestrator.executeWorkflow()).rejects.toMatchObject({ code: 'TW_VALIDATION' })
    orchestrator.addTask({ id: 'a', agentType: 'worker', dependencies: ['ghost'] })
    await expect(orchestrator.executeWorkflow()).rejects.toThrow(/dependency "ghost" is not a task of this workflow/)
    const other = orchestratorSetup()
    other.orchestrator.addTask({ id: 'a', agentType: 'worker' })
    const first = other.orchestrator.executeWorkflow()
    await expect(other.orchestrator.executeWorkflow()).rejects.toMatchObject({ code: 'TW_INVALID_STATE' })
    expect((await other.clock.runUntilSettled(first)).status).toBe('succeeded')
    expect(clock.now()).toBe(0)
  })

  it('reports partial completion: outputs of what succeeded, errors with attempts and blocked tasks, skips', async () => {
    const { orchestrator, execute } = orchestratorSetup()
    orchestrator
      .addTask({ id: 'flaky', agentType: 'worker', data: { fail: true }, retry: { maxAttempts: 2, initialDelay: 50, jitter: 'none' } })
      .addTask({ id: 'needs-flaky', agentType: 'worker', dependencies: ['flaky'] })
      .addTask({ id: 'then', agentType: 'worker', dependencies: ['needs-flaky'] })
      .addTask({ id: 'fine', agentType: 'worker' })
    const result = await execute()
    expect(result.status).toBe('partial')
    expect(Object.keys(result.results)).toEqual(['fine'])
    expect(result.errors['flaky']).toEqual({ code: 'E_AGENT', message: 'agent failed on flaky', attempts: 2, blocked: ['needs-flaky', 'then'] })
    expect({ ...result.skipped }).toEqual({ 'needs-flaky': 'upstream task "flaky" failed', then: 'upstream task "needs-flaky" was skipped' })
  })

  it('cancels on abort: finished outputs stay, the rest is cancelled', async () => {
    const { orchestrator, execute, clock } = orchestratorSetup()
    orchestrator.addTask({ id: 'quick', agentType: 'worker', data: { ms: 10 } }).addTask({ id: 'slow', agentType: 'worker', data: { ms: 1000 } })
    orchestrator.addTask({ id: 'after', agentType: 'worker', dependencies: ['slow'] })
    const controller = new AbortController()
    clock.setTimer(100, () => controller.abort(new Error('stop')))
    const result = await execute({ signal: controller.signal })
    expect(result.status).toBe('cancelled')
    expect(Object.keys(result.results)).toEqual(['quick'])
    expect(result.errors['slow']).toMatchObject({ code: 'TW_CANCELLED', message: 'stop', attempts: 1 })
    expect(result.errors['after']).toMatchObject({ code: 'TW_CANCELLED', attempts: 0 })
  })

  it('dynamicTasks: tasks added by a completion handler, or directly, join the run and its report', async () => {
    const clock = new ManualClock()
    const orchestrator: WorkflowOrchestrator = new WorkflowOrchestrator({
      dynamicTasks: true,
      clock,
      agents: {
        worker: (data) => data,
        // Adds a task straight to the running workflow, then returns a plan for the handler.
        spawner: async (_data, ctx) => {
          await sleep(clock, 5, ctx.signal)
          orchestrator.addTask({ id: 'direct', agentType: 'worker', data: { from: 'agent' } })
          return { steps: ['s1', 's2'] }
        },
      },
    })
    orchestrator.addTask({ id: 'plan', agentType: 'spawner' })
    const seen: string[] = []
    orchestrator.onTaskComplete('plan', (result, run) => {
      seen.push(`${result.taskId}:${result.status}`)
      for (const [i, step] of (result.output as { steps: string[] }).steps.entries()) {
        run.addTask({ id: `step-${i}`, agentType: 'worker', data: { step }, dependencies: i === 0 ? ['plan'] : [`step-${i - 1}`] })
      }
    })
    // A handler for a task that does not exist yet; async handlers keep the run open until they settle.
    orchestrator.onTaskComplete('step-1', async (result) => {
      await sleep(clock, 1)
      seen.push(`${result.taskId}:${result.status}`)
    })
    const removed = orchestrator.onTaskComplete('plan', () => {
      seen.push('never called')
    })
    removed()
    const result = await clock.runUntilSettled(orchestrator.executeWorkflow())
    expect(result.status).toBe('succeeded')
    expect(result.handlerErrors).toEqual([])
    expect(seen).toEqual(['plan:succeeded', 'step-1:succeeded'])
    expect(result.report.tasks['step-0']).toMatchObject({ status: 'succeeded', addedBy: 'plan', output: { step: 's1' } })
    expect(result.report.tasks['step-1']).toMatchObject({ status: 'succeeded', addedBy: 'plan', output: { step: 's2' } })
    expect(result.report.tasks['direct']).toMatchObject({ status: 'succeeded', output: { from: 'agent' } })
    expect(result.report.tasks['direct']!.addedBy).toBeUndefined()
    expect(orchestrator.tasks.map((t) => t.id)).toEqual(['plan']) // added tasks belonged to that run only
    expect(orchestrator.isRunning).toBe(false)
  })

  it('refuses tasks added while the run goes on when dynamicTasks is off', async () => {
    const { orchestrator, execute } = orchestratorSetup()
    let direct: unknown
    orchestrator.addTask({ id: 'plan', agentType: 'worker' })
    orchestrator.onTaskComplete('plan', (_result, run) => {
      try {
        orchestrator.addTask({ id: 'direct', agentType: 'worker' })
      } catch (err) {
        direct = err
      }
      run.addTask({ id: 'extra', agentType: 'worker' })
    })
    const result = await execute()
    expect(result.status).toBe('succeeded')
    expect(result.handlerErrors).toEqual([
      { taskId: 'plan', code: 'TW_DYNAMIC_TASK', message: 'cannot add task "extra" while the workflow runs: create the orchestrator with dynamicTasks: true' },
    ])
    expect(TaskweaveError.is(direct, 'TW_DYNAMIC_TASK')).toBe(true)
    expect(Object.keys(result.report.tasks)).toEqual(['plan'])
  })

  it('records a handler that fails, and a dynamic task with an unknown agent type, without stopping the run', async () => {
    const { orchestrator, execute } = orchestratorSetup({ dynamicTasks: true })
    orchestrator.addTask({ id: 'a', agentType: 'worker' }).addTask({ id: 'b', agentType: 'worker', data: { ms: 50 } })
    orchestrator.onTaskComplete('a', (_r, run) => run.addTask({ id: 'typo', agentType: 'wroker' }))
    orchestrator.onTaskComplete('a', async () => Promise.reject(new Error('handler crashed')))
    const result = await execute()
    expect(result.status).toBe('succeeded')
    expect(result.handlerErrors.map((e) => [e.taskId, e.code])).toEqual([
      ['a', 'TW_VALIDATION'],
      ['a', 'TW_TOOL_FAILED'],
    ])
    expect(result.handlerErrors[0]!.message).toContain('task "typo" agentType: unknown agent type "wroker"')
  })
})

// ------------------------------------------------------------------ the seeds' examples

describe('seed examples', () => {
  it('003 parallel data processing: four datasets in parallel (2 at a time), analyses, one report', async () => {
    const clock = new ManualClock()
    const result: WorkflowResult = await clock.runUntilSettled(parallelDataProcessing({ clock, log: () => {} }))
    expect(result.status).toBe('succeeded')
    expect(Object.keys(result.results)).toHaveLength(9)
    expect(result.results['generate_report']).toEqual<Report>({
      reportType: 'executive_summary',
      datasets: 4,
      rising: ['sales', 'churn'],
      falling: ['traffic'],
      flat: ['signups'],
      summary: '4 datasets: 2 rising (sales, churn), 1 falling (traffic), 1 flat (signups)',
    })
    // 2 waves of data processing (40 ms, group cap 2); each analysis follows its own dataset; then the report.
    expect(result.report.durationMs).toBe(40 + 40 + 20 + 10)
    expect(result.report.tasks['analyze_data_0']!.startedAt).toBe(40)
    const data = Object.values(result.report.tasks).filter((t) => t.id.startsWith('process_data_'))
    for (const task of data) expect(data.filter((o) => o.startedAt! <= task.startedAt! && o.finishedAt! > task.startedAt!).length).toBeLessThanOrEqual(2)
  })

  it('003 dynamic planning: the plan’s steps are added at run time and run as a chain', async () => {
    const clock = new ManualClock()
    const lines: string[] = []
    const result = await clock.runUntilSettled(dynamicPlanning({ clock, log: (line) => lines.push(line) }))
    expect(result.status).toBe('succeeded')
    const steps = Object.values(result.report.tasks).filter((t) => t.id.startsWith('execute_step_'))
    expect(steps.map((t) => [t.id, t.addedBy])).toEqual([0, 1, 2, 3, 4].map((i) => [`execute_step_${i}`, 'create_plan']))
    for (let i = 1; i < steps.length; i++) expect(steps[i]!.startedAt).toBe(steps[i - 1]!.finishedAt)
    expect((result.results['execute_step_4'] as StepOutput).completed).toEqual([
      'collect interaction data',
      'engineer features',
      'train a collaborative-filtering model',
      'evaluate offline metrics',
      'deploy the recommendation API',
    ])
    expect(result.report.durationMs).toBe(30 + 5 * 15)
    expect(lines).toContain('plan ready: 5 steps added')
  })

  it('004 parallel executor tutorial: order kept, the missing config fails alone, progress, metrics, retry, await using', async () => {
    const result = await parallelExecutor({ log: () => {}, retryDelay: 1 })
    expect(result.parallel.map((r) => r.taskId)).toEqual(result.parallelTaskIds)
    expect(result.parallel.map((r) => r.success)).toEqual([true, true, false])
    expect((result.parallel[0]!.output as { content: string }).content).toContain('# taskweave')
    expect((result.parallel[1]!.output as { entries: { name: string }[] }).entries.map((e) => e.name)).toContain('README.md')
    expect(result.parallel[2]!.error).toEqual({ code: 'TW_FS_NOT_FOUND', message: '"config/default.yaml" does not exist' })
    expect(result.single).toMatchObject({ success: true, output: { exists: true, type: 'file' } })
    expect(result.progressEvents).toEqual(['started', 'finished'])
    expect(result.metrics).toHaveLength(4)
    for (const m of result.metrics) expect(m.checkpoints.map((c) => c.name)).toEqual(['queued', 'started', 'finished'])
    expect(result.retry).toMatchObject({ success: true, output: { status: 200, calls: 3 }, metadata: { attempts: 3, retries: 2, retryExhausted: false } })
    expect(result.scoped.success).toBe(true)
    expect(result.asyncResult.success).toBe(true)
  })
})
