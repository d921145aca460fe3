/**
 * Typos inside the groups of options (`builtins.llm.baseUrl`, `agentPool.maxInstance`,
 * `background.finishedTTL`, `autoscale.maxLag`) and in a tool definition are refused with the
 * name as written, the way top-level ones are: silently ignored, `baseUrl` sent LLM calls and the
 * API key to the default provider.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createEngine, defineTool } from 'taskweave'
import { AgentSessionPool } from 'taskweave/agents'
import { ConcurrentExecutor } from 'taskweave/background'
import { builtinTools } from 'taskweave/tools'

const refused = (make: () => unknown): string => {
  try {
    make()
  } catch (err) {
    return `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`
  }
  return 'accepted'
}

describe('nested options', () => {
  it('createEngine refuses unknown names inside builtins, agentPool, background and autoscale', () => {
    expect(refused(() => createEngine({ builtins: { llm: { baseUrl: 'http://127.0.0.1:1/v1' } } as never }))).toMatch(/^TW_INVALID_OPTION unknown option "builtins\.llm\.baseUrl" of createEngine\(\); did you mean "builtins\.llm\.baseURL"/)
    expect(refused(() => createEngine({ builtins: { http: { allowPrivateNetwrk: true } } as never }))).toMatch(/"builtins\.http\.allowPrivateNetwrk" of createEngine\(\); did you mean "builtins\.http\.allowPrivateNetwork"/)
    expect(refused(() => createEngine({ builtins: { fs: { maxReadByte: 1 } } as never }))).toMatch(/"builtins\.fs\.maxReadByte"/)
    expect(refused(() => createEngine({ builtins: { shell: {} } as never }))).toMatch(/"builtins\.shell" of createEngine\(\)/)
    expect(refused(() => createEngine({ agentPool: { maxInstance: 2 } as never }))).toMatch(/"agentPool\.maxInstance" of createEngine\(\); did you mean "agentPool\.maxInstances"/)
    expect(refused(() => createEngine({ background: { finishedTTL: '1m' } as never }))).toMatch(/"background\.finishedTTL" of createEngine\(\); did you mean "background\.finishedTtl"/)
    expect(refused(() => createEngine({ autoscale: { maxLag: 5 } as never }))).toMatch(/"autoscale\.maxLag" of createEngine\(\)/)
    // What the engine sets itself is not the caller's to give.
    expect(refused(() => createEngine({ background: { limiter: undefined } as never }))).toMatch(/"background\.limiter"/)
    // Every known name still passes.
    expect(refused(() => createEngine({ builtins: { llm: { baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k' }, http: { allowPrivateNetwork: true }, fs: { maxReadBytes: 10 } }, agentPool: { maxInstances: 2 }, background: { finishedTtl: '1m' }, autoscale: { maxEventLoopLagMs: 50 } }))).toBe('accepted')
    expect(refused(() => createEngine({ autoscale: true, builtins: { llm: false } }))).toBe('accepted')
  })

  it('the constructors used alone refuse them too', () => {
    expect(refused(() => new ConcurrentExecutor({ defaultTimout: '50ms' } as never))).toMatch(/unknown option "defaultTimout" of new ConcurrentExecutor\(\); did you mean "defaultTimeout"/)
    expect(refused(() => new AgentSessionPool({ agents: [], idleTimout: '1s' } as never))).toMatch(/unknown option "idleTimout" of new AgentSessionPool\(\)/)
    expect(refused(() => builtinTools({ htp: {} } as never))).toMatch(/unknown option "htp" of builtinTools\(\)/)
  })

  it('defineTool refuses an unknown field, and an input that is not a zod schema, naming the tool', () => {
    expect(refused(() => defineTool({ name: 'cut', input: z.object({}), run: () => 1, maxOutputByte: 10 } as never))).toMatch(/^TW_INVALID_OPTION unknown option "maxOutputByte" of defineTool\(\); did you mean "maxOutputBytes"/)
    expect(refused(() => defineTool({ name: 'search', input: { query: z.string() }, run: () => 1 } as never))).toBe('TW_INVALID_OPTION tool "search": input must be a zod schema, such as z.object({ query: z.string() }); received an object with the keys query')
    expect(refused(() => defineTool({ name: 'search', run: () => 1 } as never))).toMatch(/tool "search": input must be a zod schema.*received undefined/)
    expect(refused(() => defineTool({ name: 'no run', input: z.object({}) } as never))).toMatch(/^TW_INVALID_OPTION option "name" must be a tool name/)
    expect(refused(() => defineTool({ name: 'x', input: z.object({}) } as never))).toBe('TW_INVALID_OPTION tool "x": run must be a function')
  })
})
