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
