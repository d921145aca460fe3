import { describe, expect, it } from 'vitest'
import { ManualClock } from '../testing/manual-clock.js'
import { DONE } from '../fsm/define.js'
import { ConcurrentExecutor } from './executor.js'
import { FsmExecutor } from './fsm-executor.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('FsmExecutor', () => {
  it('runs a machine in the background and gives its final state, context and transitions', async () => {
    const clock = new ManualClock()
    await using fsm = new FsmExecutor({ clock })
    const id = fsm.submit({
      conversationId: 'conversation123',
      name: 'user_verification',
      initialState: 'initial_state',
      context: { user_data: 'example', verified: false },
      states: {
        initial_state: { run: () => 'processing_state' },
        processing_state: { run: async ({ context, sleep }) => (await sleep('3s'), { next: 'final_state', context: { ...context, verified: true } }) },
        final_state: { run: () => DONE },
      },
    })
    expect(id).toBe('conversation123:user_verification:1')
    await tick()
    expect(fsm.status(id)).toMatchObject({ kind: 'state-machine', status: 'running', progress: { message: 'initial_state → processing_state' } })
    clock.advance(3000)
    const result = await fsm.result(id)
    expect(result).toMatchObject({ status: 'succeeded', finalState: 'final_state', context: { user_data: 'example', verified: true } })
    expect(result?.transitions.map((t) => [t.from, t.to, t.at, t.durationMs])).toEqual([
      ['initial_state', 'processing_state', 0, 0],
      ['processing_state', 'final_state', 3000, 3000],
      ['final_state', null, 3000, 0],
    ])
  })

  it('reports a failed machine with its coded error and the transitions it made', async () => {
    await using fsm = new FsmExecutor()
    const id = fsm.submit<object, string>({ conversationId: 'c', name: 'broken', initialState: 'a', context: {}, states: { a: { run: () => 'b' }, b: { run: () => 'zzz' } } })
    const result = await fsm.result(id)
    expect(result).toMatchObject({ status: 'failed', finalState: 'b', error: { code: 'TW_FSM_UNKNOWN_STATE', details: { state: 'b', next: 'zzz' } } })
    expect(fsm.executor.peek(id)).toMatchObject({ status: 'failed', error: { code: 'TW_FSM_UNKNOWN_STATE' } })
  })

  it('rejects a bad machine at submit, and shares an executor it does not close', async () => {
    const shared = new ConcurrentExecutor()
    const fsm = new FsmExecutor({ executor: shared })
    expect(() => fsm.submit<object, string>({ conversationId: 'c', name: 'x', initialState: 'nope', context: {}, states: { a: { run: () => DONE } } })).toThrow(/initial state "nope"/)
    const id = fsm.submit({ conversationId: 'c', name: 'ok', initialState: 'a', context: {}, states: { a: { run: ({ signal }) => new Promise<null>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) } } })
    await tick()
    expect(fsm.endConversation('c')).toEqual({ cancelled: 1, removed: 1 })
    await fsm.close()
    expect(() => shared.submit({ conversationId: 'c', name: 'still-open', run: () => 1 })).not.toThrow()
    expect(await fsm.result(id)).toBeUndefined() // forgotten with its conversation
    expect(await fsm.result(shared.submit({ conversationId: 'c', name: 'fn', run: () => 1 }))).toBeUndefined() // not a machine
    await shared.close()
  })

  it('cancels a running machine, keeping where it was', async () => {
    await using fsm = new FsmExecutor()
    const id = fsm.submit({
      conversationId: 'c',
      name: 'wait',
      initialState: 'start',
      context: { step: 0 },
      states: { start: { run: () => ({ next: 'wait', context: { step: 1 } }) }, wait: { run: ({ signal }) => new Promise<null>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) } },
    })
    await tick()
    const waiting = fsm.result(id)
    expect(fsm.cancel(id, 'no longer needed')).toBe(true)
    expect(await waiting).toMatchObject({ status: 'cancelled', finalState: 'wait', context: { step: 1 }, error: { code: 'TW_CANCELLED', message: 'no longer needed' } })
  })
})

describe('FsmExecutor: a machine stopped before it started', () => {
  it('still gives a machine result: cancelled, in its initial state, with its context and no transitions', async () => {
    const fsm = new FsmExecutor()
    const id = fsm.submit({ conversationId: 'c', name: 'm', initialState: 'a', states: { a: { run: () => DONE } }, context: { x: 1 } })
    const pending = fsm.result(id)
    expect(fsm.cancel(id)).toBe(true)
    const result = await pending
    expect(result).toMatchObject({ status: 'cancelled', finalState: 'a', context: { x: 1 }, transitions: [], error: { code: 'TW_CANCELLED' } })
    await fsm.close()
  })
})

describe('FsmExecutor.submit options', () => {
  it('refuses an option it does not know, and passes priority and durable on', async () => {
    const fsm = new FsmExecutor()
    const spec = { conversationId: 'c', name: 'm', initialState: 'a' as const, context: {}, states: { a: { run: () => DONE } } }
    expect(() => fsm.submit({ ...spec, timeoutMs: 10 } as never)).toThrow(/unknown option "timeoutMs" of FsmExecutor\.submit\(\)/)
    const id = fsm.submit({ ...spec, priority: 5, durable: false })
    expect((await fsm.executor.result(id))?.status).toBe('succeeded')
    await fsm.close()
  })
})
