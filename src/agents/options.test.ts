import { describe, expect, it } from 'vitest'
import { defineAgent } from './define-agent.js'
import { resolveAgentSessionPoolOptions } from './options.js'
import { AgentSessionPool } from './session-pool.js'

describe('agent pool options', () => {
  it('keeps an instance whose idle timeout exceeds 2^31 ms on the default clock', async () => {
    const agent = defineAgent({ name: 'keeper', create: () => ({}), execute: () => 'ok' })
    const pool = new AgentSessionPool({ agents: [agent], idleTimeout: '30d' })
    await pool.execute(agent, 's', null)
    // A 30-day delay given to a bare setTimeout fires after 1 ms; the system clock cannot be
    // moved, so give such a timer a few real milliseconds to misfire.
    await new Promise((resolve) => setTimeout(resolve, 25))
    expect(pool.hasInstance('keeper', 's')).toBe(true)
    await pool.close()
  })

  it('resolves the close grace period and refuses a bad one, naming the option', () => {
    const agents = [defineAgent({ name: 'a', create: () => ({}), execute: () => 'ok' })]
    expect(resolveAgentSessionPoolOptions({ agents }).closeTimeoutMs).toBe(5000)
    expect(resolveAgentSessionPoolOptions({ agents, closeTimeout: '250ms' }).closeTimeoutMs).toBe(250)
    expect(() => resolveAgentSessionPoolOptions({ agents, closeTimeout: -1 })).toThrow(/closeTimeout/)
  })
})
