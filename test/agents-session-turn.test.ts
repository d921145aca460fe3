/**
 * One turn per agent session, whoever asks: a workflow task and a direct `engine.agents.execute()`
 * on the same session take the same engine-wide `session:` permit, so the instance never serves
 * both at once and `engine.stats()` shows who waits.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineAgent } from 'taskweave'
import { ManualClock } from 'taskweave/testing'

describe('agent session turns through the engine\'s keyed limiter', () => {
  it('a direct execution waits for the workflow task that holds the session, and runs right after', async () => {
    const log: string[] = []
    const releases: (() => void)[] = []
    const agent = defineAgent({
      name: 'chat',
      input: z.object({ message: z.string() }),
      create: () => ({ busy: false }),
      execute: async (instance, { message }) => {
        expect(instance.busy).toBe(false)
        instance.busy = true
        log.push(`start ${message}`)
        await new Promise<void>((resolve) => releases.push(resolve))
        log.push(`end ${message}`)
        instance.busy = false
        return message
      },
    })
    const engine = createEngine({ agents: [agent], builtins: false })
    const handle = engine.start({ id: 'w', tasks: [{ id: 't', agent: 'chat', session: 's1', input: { message: 'from-workflow' } }] })
    await new Promise<void>((resolve) => handle.on('task:started', () => resolve()))
    await new Promise((resolve) => setImmediate(resolve))
    const direct = engine.agents!.execute('chat', 's1', { message: 'direct' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['start from-workflow'])
    expect(engine.stats().keys).toContainEqual({ key: 'session:chat#s1', inUse: 1, waiting: 1 })
    // Another session is not held up.
    const other = engine.agents!.execute('chat', 's2', { message: 'other' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['start from-workflow', 'start other'])
    releases.shift()!()
    releases.shift()!()
    await handle.result
    await new Promise((resolve) => setImmediate(resolve))
    expect(log.slice(0, 5)).toEqual(['start from-workflow', 'start other', 'end from-workflow', 'end other', 'start direct'])
    releases.shift()!()
    expect(await direct).toBe('direct')
    expect(await other).toBe('other')
    await engine.close()
  })

  it('a task that timed out keeps the instance until its agent returns: the next task of the session waits, a direct execution too', async () => {
    const clock = new ManualClock()
    let active = 0
    let most = 0
    const started: string[] = []
    const releases: (() => void)[] = []
    // Slow to honour its signal, as a provider SDK without abort support is.
    const agent = defineAgent({
      name: 'chat',
      input: z.object({ message: z.string() }),
      create: () => ({}),
      execute: async (_instance, { message }) => {
        active++
        most = Math.max(most, active)
        started.push(message)
        await new Promise<void>((resolve) => releases.push(resolve))
        active--
        return message
      },
    })
    const engine = createEngine({ agents: [agent], builtins: false, clock })
    const turns = async (): Promise<void> => {
      for (let k = 0; k < 10; k++) await new Promise((resolve) => setImmediate(resolve))
    }
    const handle = engine.start({
      id: 'w',
      tasks: [
        { id: 'a', agent: 'chat', session: 's1', input: { message: 'a' }, timeout: '1s' },
        { id: 'b', agent: 'chat', session: 's1', input: { message: 'b' }, timeout: '1s' },
      ],
    })
    await turns()
    expect(started).toEqual(['a'])
    clock.advance(1000)
    await turns()
    const direct = engine.agents!.execute('chat', 's1', { message: 'direct' })
    await turns()
    // a timed out, but its agent still runs on the instance: nothing else joins it there.
    expect(started).toEqual(['a'])
    releases.shift()!()
    await turns()
    expect(started).toEqual(['a', 'b'])
    releases.shift()!()
    await turns()
    expect(started).toEqual(['a', 'b', 'direct'])
    releases.shift()!()
    expect(await direct).toBe('direct')
    const result = await handle.result
    expect(result.tasks['a']?.status).toBe('failed')
    expect(result.tasks['b']?.status).toBe('succeeded')
    expect(most).toBe(1)
    await engine.close()
  })
})

describe('engine.agents calls', () => {
  it("keeps one session's executions in submission order whatever their priority", async () => {
    const order: string[] = []
    const chat = defineAgent({
      name: 'chat',
      input: z.object({ msg: z.string() }),
      create: () => ({ history: [] as string[] }),
      execute: async (state, { msg }) => {
        await new Promise((resolve) => setImmediate(resolve))
        state.history.push(msg)
        order.push(msg)
        return state.history.length
      },
    })
    const engine = createEngine({ agents: [chat], builtins: false })
    const pool = engine.agents as NonNullable<typeof engine.agents>
    await Promise.all([pool.execute(chat, 'user-1', { msg: 'first' }), pool.execute(chat, 'user-1', { msg: 'second' }), pool.execute(chat, 'user-1', { msg: 'third' }, { priority: 5 })])
    expect(order).toEqual(['first', 'second', 'third'])
    await engine.close()
  })

  it('refuses a session id that is not a non-empty string, and options it does not know', async () => {
    const echo = defineAgent({ name: 'echo', input: z.object({}), create: () => ({}), execute: () => 'ok' })
    const engine = createEngine({ agents: [echo], builtins: false })
    const pool = engine.agents as NonNullable<typeof engine.agents>
    for (const sessionId of [undefined, '', null, 42, { user: 'alice' }]) {
      await expect(pool.execute(echo, sessionId as never, {})).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'sessionId' } })
      expect(() => pool.stream(echo, sessionId as never, {})).toThrow(expect.objectContaining({ code: 'TW_INVALID_OPTION' }))
    }
    await expect(pool.execute(echo, 's', {}, { timeout: 50 } as never)).rejects.toThrow(/unknown option "timeout" of execute\(\)/)
    await expect(pool.execute(echo, 's', {}, { signal: { aborted: false } } as never)).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', details: { option: 'signal' } })
    await expect(pool.close({ froce: true } as never)).rejects.toThrow(/unknown option "froce" of close\(\)/)
    await expect(pool.execute(echo, 's', {})).resolves.toBe('ok')
    await engine.close()
  })
})
