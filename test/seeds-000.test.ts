// Seed 000 (FastAgent Concurrent Execution Service): ConcurrentExecutor + AFSM executor, end to end.
// Time is a ManualClock wherever timing matters: nothing here sleeps for real beyond a few ms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConcurrentExecutor, FsmExecutor } from '../src/background/index.js'
import { DONE, defineStateMachine, runStateMachine, stateMachineTool } from '../src/fsm/index.js'
import type { StateSpec } from '../src/fsm/index.js'
import { createEngine, defineTool, sleep, workflow } from '../src/index.js'
import { ManualClock } from '../src/testing/index.js'
import { main as afsmTask } from '../examples/seeds/000-afsm-task.js'
import { main as backgroundTask } from '../examples/seeds/000-background-task.js'
import { main as balanceCheck } from '../examples/seeds/000-balance-check.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const untilAborted = (signal: AbortSignal): Promise<never> => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))

// Errors of background work must be captured, never surface as unhandled rejections: watch the whole file.
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
beforeAll(() => void process.on('unhandledRejection', onUnhandled))
afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

describe('seed 000: background tasks beside a conversation', () => {
  it('tracks a task from pending through running to succeeded, with timings and progress', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock })
    const id = executor.submit({
      conversationId: 'conversation123',
      name: 'my_task',
      run: async ({ signal, progress }) => {
        progress({ fraction: 0.1, message: 'started' })
        await sleep(clock, 1500, signal)
        return { status: 'complete', data: 'processed' }
      },
    })
    expect(executor.status(id)?.status).toBe('pending')
    await tick()
    expect(executor.status(id)).toMatchObject({ status: 'running', progress: { message: 'started' } })
    expect(executor.peek(id)).toBeUndefined()
    clock.advance(1500)
    expect(await executor.result(id)).toMatchObject({ status: 'succeeded', value: { status: 'complete', data: 'processed' }, durationMs: 1500 })
    expect(executor.list('conversation123').map((t) => t.status)).toEqual(['succeeded'])
  })

  it('cancels, times out and captures failures, and result() never rejects', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock, defaultTimeout: '30s' })
    const cancelled = executor.submit({ conversationId: 'c', name: 'cancelled', run: ({ signal }) => untilAborted(signal) })
    const timedOut = executor.submit({ conversationId: 'c', name: 'timed-out', run: ({ signal }) => untilAborted(signal) })
    const thrown = executor.submit({ conversationId: 'c', name: 'thrown', run: () => { throw new TypeError('bad data') } })
    // Ignores its signal and rejects long after it was cancelled: still no unhandled rejection.
    const stubborn = executor.submit({ conversationId: 'c', name: 'stubborn', run: () => sleep(clock, 60_000).then(() => Promise.reject(new Error('late failure'))) })
    await tick()
    executor.cancel(cancelled, 'user moved on')
    executor.cancel(stubborn)
    clock.advance(30_000)
    const outcomes = await Promise.all([cancelled, timedOut, thrown, stubborn].map((id) => executor.result(id)))
    expect(outcomes.map((o) => [o?.status, o?.error?.code])).toEqual([
      ['cancelled', 'TW_CANCELLED'],
      ['timed_out', 'TW_TIMEOUT'],
      ['failed', 'TW_TOOL_FAILED'],
      ['cancelled', 'TW_CANCELLED'],
    ])
    expect(outcomes[2]?.error).toMatchObject({ name: 'TypeError', message: 'bad data' })
    clock.advance(60_000)
    await tick()
    await tick()
    expect(executor.peek(stubborn)?.status).toBe('cancelled') // the late rejection changed nothing
  })

  it('ending one conversation cancels and removes all of it, and nothing of another', async () => {
    const executor = new ConcurrentExecutor()
    const signals: Record<string, AbortSignal> = {}
    const start = (conversationId: string, name: string): string =>
      executor.submit({ conversationId, name, run: ({ signal }) => ((signals[`${conversationId}/${name}`] = signal), untilAborted(signal)) })
    start('alice', 'balance')
    start('alice', 'statement')
    const bobBalance = start('bob', 'balance')
    const bobDone = executor.submit({ conversationId: 'bob', name: 'greeting', run: () => 'hello' })
    await executor.result(bobDone)
    const bobStream = executor.completions('bob')

    expect(executor.endConversation('alice')).toEqual({ cancelled: 2, removed: 2 })
    expect(signals['alice/balance']?.aborted).toBe(true)
    expect(signals['alice/statement']?.aborted).toBe(true)
    expect(executor.list('alice')).toEqual([])

    expect(signals['bob/balance']?.aborted).toBe(false)
    expect(executor.list('bob').map((t) => t.status)).toEqual(['running', 'succeeded'])
    expect(executor.drainInbox('bob').map((c) => c.value)).toEqual(['hello'])
    expect(executor.stats()).toMatchObject({ active: 1, tasks: 2, conversations: 1 })
    executor.cancel(bobBalance)
    expect((await bobStream.next()).value?.taskId).toBe(bobBalance)
    executor.endConversation('bob')
    expect(executor.stats()).toEqual({ tasks: 0, active: 0, finished: 0, conversations: 0, inboxed: 0 })
  })

  it('delivers each completion to the callback, the live iterator and the inbox', async () => {
    const clock = new ManualClock()
    const called: string[] = []
    const executor = new ConcurrentExecutor({ clock, onComplete: (c) => called.push(c.name) })
    const controller = new AbortController()
    const streamed: string[] = []
    const listening = (async () => {
      for await (const c of executor.completions('c', { signal: controller.signal })) streamed.push(c.name)
    })()
    for (const [name, ms] of [['slow', 300], ['fast', 100], ['medium', 200]] as const) {
      executor.submit({ conversationId: 'c', name, run: ({ signal }) => sleep(clock, ms, signal) })
    }
    await tick()
    clock.advance(150)
    await tick()
    const firstTurn = executor.drainInbox('c').map((c) => c.name)
    clock.advance(150)
    await tick()
    controller.abort()
    await listening
    expect(called).toEqual(['fast', 'medium', 'slow'])
    expect(streamed).toEqual(['fast', 'medium', 'slow'])
    expect(firstTurn).toEqual(['fast'])
    expect(executor.drainInbox('c').map((c) => c.name)).toEqual(['medium', 'slow'])
  })

  it('forgets finished tasks after finishedTtl on the clock', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock, finishedTtl: '10m' })
    const id = executor.submit({ conversationId: 'c', name: 'quick', run: () => 1 })
    await executor.result(id)
    clock.advance(10 * 60_000 - 1)
    expect(executor.peek(id)?.value).toBe(1)
    clock.advance(1)
    expect(executor.status(id)).toBeUndefined()
    expect(executor.stats()).toMatchObject({ tasks: 0, conversations: 0 })
  })

  it('stays bounded in memory over 100,000 finished tasks', async () => {
    const maxFinished = 1000
    const executor = new ConcurrentExecutor({ clock: new ManualClock(), maxFinished })
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const heapBefore = process.memoryUsage().heapUsed
    let peakTasks = 0
    const payload = 'x'.repeat(100) // ~100 bytes per value: 100,000 of them would be ≥ 10 MB if kept
    for (let batch = 0; batch < 100; batch++) {
      let last = ''
      for (let i = 0; i < 1000; i++) last = executor.submit({ conversationId: `conv-${i % 20}`, name: 'job', run: () => `${payload}${batch}-${i}` })
      await executor.result(last)
      const stats = executor.stats()
      peakTasks = Math.max(peakTasks, stats.tasks)
      expect(stats.active).toBe(0)
      expect(stats.finished).toBeLessThanOrEqual(maxFinished)
      expect(stats.inboxed).toBeLessThanOrEqual(maxFinished)
      expect(stats.conversations).toBeLessThanOrEqual(20)
      if (batch % 10 === 0) executor.drainInbox('conv-0')
    }
    expect(peakTasks).toBeLessThanOrEqual(maxFinished)
    expect(executor.stats()).toMatchObject({ tasks: maxFinished, finished: maxFinished })
    if (gc !== undefined) {
      gc()
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024)
    }
  })
})

describe('seed 000: AFSM tasks', () => {
  type State = 'initial_state' | 'processing_state' | 'final_state'
  const states: { [K in State]: StateSpec<{ user_data: string; verified?: boolean }, State> } = {
    initial_state: {
      run: async ({ sleep }) => {
        await sleep('200ms')
        return 'processing_state'
      },
    },
    processing_state: {
      run: async ({ sleep, context }) => {
        await sleep('1s')
        return { next: 'final_state', context: { ...context, verified: true } }
      },
    },
    final_state: { run: () => DONE },
  }

  it('runs in the background and returns final state, final context and the transition history', async () => {
    const clock = new ManualClock(10_000)
    const fsm = new FsmExecutor({ clock })
    const id = fsm.submit({ conversationId: 'conversation123', initialState: 'initial_state', states, context: { user_data: 'example' }, name: 'user_verification' })
    const result = await clock.runUntilSettled(fsm.result(id))
    expect(result).toMatchObject({ status: 'succeeded', finalState: 'final_state', context: { user_data: 'example', verified: true }, durationMs: 1200 })
    expect(result?.transitions).toEqual([
      { from: 'initial_state', to: 'processing_state', at: 10_200, durationMs: 200, attempts: 1 },
      { from: 'processing_state', to: 'final_state', at: 11_200, durationMs: 1000, attempts: 1 },
      { from: 'final_state', to: null, at: 11_200, durationMs: 0, attempts: 1 },
    ])
  })

  const failing: [what: string, code: string, state: string, states: Record<string, StateSpec<object>>][] = [
    ['an unknown next state', 'TW_FSM_UNKNOWN_STATE', 'a', { a: { run: () => 'nowhere' } }],
    ['an endless loop', 'TW_FSM_MAX_TRANSITIONS', 'b', { a: { run: () => 'b' }, b: { run: () => 'a' } }],
    ['a state that keeps throwing', 'TW_FSM_STATE_FAILED', 'b', { a: { run: () => 'b' }, b: { retry: { maxAttempts: 3, delay: '1s' }, run: () => { throw new Error('down') } } }],
    ['a state timeout', 'TW_TIMEOUT', 'a', { a: { timeout: '5s', run: ({ signal }) => untilAborted(signal) } }],
  ]
  it.each(failing)('ends on %s with %s naming state "%s"', async (_what, code, state, machineStates) => {
    const clock = new ManualClock()
    const machine = defineStateMachine({ initial: 'a', context: {}, maxTransitions: 5, states: machineStates })
    const result = await clock.runUntilSettled(runStateMachine(machine, { clock }))
    expect(result.status).toBe('failed')
    expect(result.finalState).toBe(state)
    expect(result.error).toMatchObject({ code, details: { state } })
    expect(result.error?.message).toContain(`"${state}"`)
  })

  it('runs as one task of a DAG workflow, between a dependency and a dependent', async () => {
    const clock = new ManualClock()
    await using engine = createEngine({ clock, builtins: false })
    const fetchUser = defineTool({ name: 'seed.fetchUser', input: z.object({}), run: () => 'example' })
    const greet = defineTool({ name: 'seed.greet', input: z.object({ state: z.string(), verified: z.boolean() }), run: ({ state, verified }) => `${state}:${String(verified)}` })
    const machine = defineStateMachine({ initial: 'initial_state', context: { user_data: '' }, states })
    const flow = workflow({ id: 'verify-then-greet' })
      .task('fetch', fetchUser)
      .task('verify', stateMachineTool('seed.verify', machine, { clock }), { input: { context: { user_data: '{{ tasks.fetch.output }}' } } })
      .task('greet', greet, { input: { state: '{{ tasks.verify.output.finalState }}', verified: '{{ tasks.verify.output.context.verified }}' } })
      .build()
    const result = await clock.runUntilSettled(engine.run(flow))
    expect(result.status).toBe('succeeded')
    expect(result.tasks['verify']?.output).toMatchObject({ finalState: 'final_state', context: { user_data: 'example', verified: true } })
    expect(result.tasks['greet']?.output).toBe('final_state:true')
    expect(result.tasks['verify']!.startedAt!).toBeGreaterThanOrEqual(result.tasks['fetch']!.finishedAt!)
    expect(result.tasks['greet']!.startedAt!).toBeGreaterThanOrEqual(result.tasks['verify']!.finishedAt!)
    expect(result.tasks['verify']!.durationMs).toBe(1200)
  })
})

describe('seed 000: examples', () => {
  const quiet = (): void => {}

  it('basic background task: submitted pending, then complete/processed', async () => {
    const { taskId, statusAtSubmit, outcome } = await backgroundTask(quiet)
    expect(taskId).toBe('conversation123:my_task:1')
    expect(statusAtSubmit).toBe('pending')
    expect(outcome).toMatchObject({ status: 'succeeded', value: { status: 'complete', data: 'processed' } })
  })

  it('AFSM task: user_verification ends in final_state with the example context verified', async () => {
    const { taskId, result } = await afsmTask(quiet)
    expect(taskId).toBe('conversation123:user_verification:1')
    expect(result).toMatchObject({ status: 'succeeded', finalState: 'final_state' })
    expect(result?.context).toEqual({ user_data: 'example', checks: ['input present', 'record found'], verified: true })
    expect(result?.transitions.map((t) => `${t.from}→${String(t.to)}`)).toEqual(['initial_state→processing_state', 'processing_state→final_state', 'final_state→null'])
  })

  it('example workflow: the balance is woven in at the next turn, and the conversation ends clean', async () => {
    const { transcript, drained, notified, cleanup, statsAfter } = await balanceCheck(quiet)
    expect(drained).toEqual([[], [], ['balance-check']])
    expect(transcript[5]).toBe('agent: By the way, your checking balance is 1234.56 USD. Try the 50/30/20 rule: needs, wants, savings.')
    expect(transcript.filter((line) => line.includes('balance is'))).toHaveLength(1)
    expect(notified).toEqual(['balance-check=succeeded', 'statement-export=cancelled'])
    expect(cleanup).toEqual({ cancelled: 1, removed: 2 })
    expect(statsAfter).toEqual({ tasks: 0, active: 0, finished: 0, conversations: 0, inboxed: 0 })
  })
})
