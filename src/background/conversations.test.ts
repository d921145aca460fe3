// The executor's per-conversation behaviour: isolation, completion delivery and cleanup.
import { describe, expect, it } from 'vitest'
import { sleep } from '../core/clock.js'
import { ManualClock } from '../testing/manual-clock.js'
import { ConcurrentExecutor } from './executor.js'
import type { BackgroundOutcome } from './types.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const untilAborted = (signal: AbortSignal): Promise<never> => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))

describe('ConcurrentExecutor: conversations', () => {
  it('endConversation cancels and forgets that conversation only', async () => {
    const clock = new ManualClock()
    const completed: string[] = []
    const executor = new ConcurrentExecutor({ clock, onComplete: (c) => completed.push(`${c.taskId}=${c.status}`) })
    const signals = new Map<string, AbortSignal>()
    const submit = (conversationId: string, name: string): string =>
      executor.submit({ conversationId, name, run: ({ signal, taskId }) => (signals.set(taskId, signal), untilAborted(signal)) })
    const aDone = executor.submit({ conversationId: 'A', name: 'done', run: () => 'finished' })
    const aRunning = submit('A', 'running')
    const bRunning = submit('B', 'running')
    const bDone = executor.submit({ conversationId: 'B', name: 'done', run: () => 'kept' })
    await tick()
    const aWaiting = executor.result(aRunning)
    const aStream = executor.completions('A')
    const bStream = executor.completions('B')

    expect(executor.endConversation('A')).toEqual({ cancelled: 1, removed: 2 })

    expect(signals.get(aRunning)?.aborted).toBe(true)
    expect(await aWaiting).toMatchObject({ status: 'cancelled', error: { code: 'TW_CANCELLED', message: 'conversation "A" ended' } })
    expect(executor.status(aRunning)).toBeUndefined()
    expect(executor.status(aDone)).toBeUndefined()
    expect(executor.list('A')).toEqual([])
    expect(executor.drainInbox('A')).toEqual([])
    const aSeen: string[] = []
    for await (const c of aStream) aSeen.push(c.taskId)
    expect(aSeen).toEqual([aRunning]) // the cancellation, then the end

    // B is untouched: still running, its finished task still there, its stream still open.
    expect(signals.get(bRunning)?.aborted).toBe(false)
    expect(executor.list('B').map((t) => [t.taskId, t.status])).toEqual([[bRunning, 'running'], [bDone, 'succeeded']])
    expect(executor.peek(bDone)?.value).toBe('kept')
    expect(executor.drainInbox('B').map((c) => c.taskId)).toEqual([bDone])
    executor.cancel(bRunning)
    expect((await bStream.next()).value?.taskId).toBe(bRunning)
    expect(completed).toEqual([`${aDone}=succeeded`, `${bDone}=succeeded`, `${aRunning}=cancelled`, `${bRunning}=cancelled`])
    expect(executor.endConversation('nobody')).toEqual({ cancelled: 0, removed: 0 })
  })

  it('completions() yields the conversation’s outcomes as they finish, and ends on its signal', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock })
    const controller = new AbortController()
    const stream = executor.completions('c', { signal: controller.signal })
    const seen: BackgroundOutcome[] = []
    const consuming = (async () => {
      for await (const outcome of stream) seen.push(outcome)
    })()
    const slow = executor.submit({ conversationId: 'c', name: 'slow', run: async ({ signal }) => (await sleep(clock, 200, signal), 'slow') })
    const fast = executor.submit({ conversationId: 'c', name: 'fast', run: async ({ signal }) => (await sleep(clock, 100, signal), 'fast') })
    executor.submit({ conversationId: 'other', name: 'elsewhere', run: () => 'not for c' })
    await tick()
    clock.advance(200)
    await executor.result(slow)
    controller.abort()
    await consuming
    expect(seen.map((o) => [o.taskId, o.value])).toEqual([[fast, 'fast'], [slow, 'slow']])
  })

  it('drainInbox returns completions not drained yet, once, oldest first', async () => {
    const executor = new ConcurrentExecutor()
    const first = executor.submit({ conversationId: 'c', name: 'first', run: () => 1 })
    const second = executor.submit({ conversationId: 'c', name: 'second', run: () => 2 })
    await executor.result(second)
    expect(executor.drainInbox('c').map((o) => [o.taskId, o.value])).toEqual([[first, 1], [second, 2]])
    expect(executor.drainInbox('c')).toEqual([])
    const third = executor.submit({ conversationId: 'c', name: 'third', run: () => 3 })
    await executor.result(third)
    expect(executor.drainInbox('c').map((o) => o.taskId)).toEqual([third])
    expect(executor.peek(first)?.value).toBe(1) // draining does not forget the task
  })

  it('never lets a throwing or rejecting onComplete escape', async () => {
    const errors: string[] = []
    const logger = { debug() {}, info() {}, warn() {}, error: (message: string) => void errors.push(message), child: () => logger }
    let calls = 0
    const executor = new ConcurrentExecutor({
      logger,
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- an async handler where a sync one is typed is exactly the case under test
      onComplete: async () => {
        calls++
        if (calls === 1) throw new Error('async handler bug')
        return Promise.resolve()
      },
    })
    const sync = new ConcurrentExecutor({ logger, onComplete: () => { throw new Error('sync handler bug') } })
    await executor.result(executor.submit({ conversationId: 'c', name: 'a', run: () => 1 }))
    await sync.result(sync.submit({ conversationId: 'c', name: 'b', run: () => 1 }))
    await tick()
    expect(errors).toEqual(['a background onComplete handler failed', 'a background onComplete handler failed'])
  })

  it('forgets finished tasks after finishedTtl on the clock, and empty conversations with them', async () => {
    const clock = new ManualClock()
    const executor = new ConcurrentExecutor({ clock, finishedTtl: '10m' })
    const early = executor.submit({ conversationId: 'c', name: 'early', run: () => 'e' })
    await executor.result(early)
    clock.advance(5 * 60_000)
    const later = executor.submit({ conversationId: 'c', name: 'later', run: () => 'l' })
    await executor.result(later)
    expect(executor.stats()).toMatchObject({ tasks: 2, finished: 2, conversations: 1, inboxed: 2 })
    clock.advance(5 * 60_000)
    expect(executor.status(early)).toBeUndefined()
    expect(await executor.result(early)).toBeUndefined()
    expect(executor.peek(later)?.value).toBe('l')
    expect(executor.drainInbox('c').map((o) => o.taskId)).toEqual([later])
    clock.advance(5 * 60_000)
    expect(executor.status(later)).toBeUndefined()
    expect(executor.stats()).toEqual({ tasks: 0, active: 0, finished: 0, conversations: 0, inboxed: 0 })
    expect(clock.pendingTimers).toBe(0)
  })

  it('keeps at most maxFinished finished tasks, forgetting the oldest first; running ones are never evicted', async () => {
    const executor = new ConcurrentExecutor({ maxFinished: 2 })
    const running = executor.submit({ conversationId: 'c', name: 'running', run: ({ signal }) => untilAborted(signal) })
    const ids = [1, 2, 3, 4].map((n) => executor.submit({ conversationId: 'c', name: `t${n}`, run: () => n }))
    await executor.result(ids[3]!)
    expect(ids.map((id) => executor.peek(id)?.value)).toEqual([undefined, undefined, 3, 4])
    expect(executor.status(running)?.status).toBe('running')
    expect(executor.drainInbox('c').map((o) => o.value)).toEqual([3, 4])
    expect(executor.stats()).toMatchObject({ tasks: 3, active: 1, finished: 2 })
    executor.cancel(running)
  })
})
