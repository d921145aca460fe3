import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine } from '../src/engine/engine.js'
import { defineTool } from '../src/core/tool.js'
import { sleep } from '../src/core/clock.js'
import { ManualClock } from '../src/testing/manual-clock.js'

describe('engine.background', () => {
  it('runs workflows beside a conversation on the engine, and ending the conversation cancels them', async () => {
    const clock = new ManualClock()
    const wait = defineTool({ name: 'wait', input: z.object({ ms: z.number() }), run: ({ ms }, ctx) => sleep(ctx.clock ?? clock, ms, ctx.signal).then(() => ms) })
    await using engine = createEngine({ clock, tools: [wait], builtins: false })
    const flow = { id: 'bg', tasks: [{ id: 'a', tool: 'wait', input: { ms: 1000 } }] }
    const quick = engine.background.submit({ conversationId: 'c1', name: 'quick', run: flow })
    const slow = engine.background.submit({ conversationId: 'c2', name: 'slow', run: { id: 'bg2', tasks: [{ id: 'a', tool: 'wait', input: { ms: 60_000 } }] } })
    await clock.runUntilSettled(engine.background.result(quick))
    expect(engine.background.peek(quick)).toMatchObject({ status: 'succeeded' })
    expect(engine.background.drainInbox('c1')).toHaveLength(1)
    expect(engine.background.status(slow)).toMatchObject({ status: 'running' })
    engine.background.endConversation('c2')
    expect(engine.background.list('c2')).toHaveLength(0)
    expect(engine.background.list('c1')).toHaveLength(1)
  })
})
