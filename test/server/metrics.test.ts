import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../../src/core/tool.js'
import { createEngine } from '../../src/engine/engine.js'
import { createEngineMetrics } from '../../src/server/metrics.js'
import { startServer } from '../../src/server/server.js'
import { send } from './http-client.js'
import { heldTool } from '../helpers.js'

const ok = defineTool({ name: 'test.ok', input: z.object({}), run: () => 1 })
let flaky = 0
const once = defineTool({ name: 'test.flaky', input: z.object({}), run: () => {
  if (flaky++ === 0) throw new Error('first attempt fails')
  return 2
} })
const bad = defineTool({ name: 'test.bad', input: z.object({}), run: () => {
  throw new Error('always')
} })

/** The value of one series in a scrape (undefined when absent). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('engine metrics', () => {
  it('counts runs, attempts, retries and task outcomes by tool, with durations, and reads the engine at each scrape', async () => {
    flaky = 0
    const engine = createEngine({ builtins: false, tools: [ok, once, bad], concurrency: 7, groups: { llm: 2 } })
    const metrics = await createEngineMetrics(engine, { labels: { instance: 't' } })
    try {
      const result = await engine.run({
        id: 'mix',
        defaults: { retry: { maxAttempts: 2, initialDelay: '1ms' } },
        tasks: [
          { id: 'a', tool: 'test.ok' },
          { id: 'b', tool: 'test.flaky', group: 'llm' },
          { id: 'c', tool: 'test.bad', retry: { maxAttempts: 1 } },
          { id: 'd', tool: 'test.ok', dependsOn: ['c'] },
        ],
      })
      expect(result.status).toBe('partial')
      const text = await metrics.text()
      expect(value(text, 'taskweave_runs_started_total{workflow="mix",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_runs_finished_total{workflow="mix",status="partial",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_task_attempts_total{tool="test.flaky",instance="t"}')).toBe(2)
      expect(value(text, 'taskweave_task_retries_total{tool="test.flaky",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_tasks_finished_total{tool="test.ok",status="succeeded",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_tasks_finished_total{tool="test.flaky",status="succeeded",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_tasks_finished_total{tool="test.bad",status="failed",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_tasks_finished_total{tool="not-started",status="skipped",instance="t"}')).toBe(1)
      expect(value(text, 'taskweave_task_duration_seconds_count{instance="t",tool="test.ok"}')).toBe(1)
      expect(value(text, 'taskweave_run_duration_seconds_count{instance="t",workflow="mix",status="partial"}')).toBe(1)
      expect(value(text, 'taskweave_engine_slots{instance="t"}')).toBe(7)
      expect(value(text, 'taskweave_engine_active_runs{instance="t"}')).toBe(0)
      metrics.close()
      await engine.run({ id: 'mix2', tasks: [{ id: 'a', tool: 'test.ok' }] })
      expect(value(await metrics.text(), 'taskweave_runs_started_total{workflow="mix2",instance="t"}')).toBeUndefined()
    } finally {
      metrics.close()
      await engine.close()
    }
  })

  it('are served by the API at /metrics, behind the token', async () => {
    const engine = createEngine({ builtins: false, tools: [ok] })
    const server = await startServer({ engine, token: 'metrics-token-0123456789', port: 0 })
    try {
      await engine.run({ id: 'm', tasks: [{ id: 'a', tool: 'test.ok' }] })
      expect((await send(server.port, '/metrics')).status).toBe(401)
      const scrape = await send(server.port, '/metrics', { headers: { authorization: 'Bearer metrics-token-0123456789' } })
      expect(scrape.status).toBe(200)
      expect(scrape.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      expect(value(scrape.text, 'taskweave_runs_finished_total{workflow="m",status="succeeded"}')).toBe(1)
    } finally {
      await server.close()
      await engine.close()
    }
  })
})

describe('engine metrics, bounded and counted once', () => {
  it('counts at most 200 workflow ids by name, the rest as other', async () => {
    const engine = createEngine({ builtins: false, tools: [ok] })
    const metrics = await createEngineMetrics(engine)
    try {
      for (let i = 0; i < 250; i++) await engine.run({ id: `w${i}`, tasks: [{ id: 'a', tool: 'test.ok' }] })
      const text = await metrics.text()
      const workflows = new Set(text.split('\n').filter((l) => l.startsWith('taskweave_runs_started_total{')).map((l) => /workflow="([^"]*)"/.exec(l)?.[1]))
      expect(workflows.size).toBe(201)
      expect(value(text, 'taskweave_runs_started_total{workflow="other"}')).toBe(50)
    } finally {
      metrics.close()
      await engine.close()
    }
  })

  it('does not count again what a resume replays, nor the tasks a suspension cancels', async () => {
    const { MemoryRunStore } = await import('../../src/stores/memory.js')
    const store = new MemoryRunStore()
    const { tool: hold, release } = heldTool()
    const workflow = { id: 'resumable', tasks: [{ id: 'x', tool: 'test.ok' }, { id: 'y', tool: 'test.hold', dependsOn: ['x'] }] }
    const engineA = createEngine({ builtins: false, tools: [ok, hold], store })
    const metricsA = await createEngineMetrics(engineA)
    const handle = engineA.start(workflow)
    await new Promise<void>((resolve) => handle.on('task:started', (event) => void (event.taskId === 'y' && resolve())))
    await engineA.close()
    const a = await metricsA.text()
    expect(value(a, 'taskweave_tasks_finished_total{tool="test.ok",status="succeeded"}')).toBe(1)
    expect(a).not.toContain('status="cancelled"')
    expect(value(a, 'taskweave_runs_finished_total{workflow="resumable",status="suspended"}')).toBe(1)
    metricsA.close()

    const engineB = createEngine({ builtins: false, tools: [ok, hold], store })
    const metricsB = await createEngineMetrics(engineB)
    try {
      release()
      const [resumed] = await engineB.resumeUnfinished()
      expect((await resumed?.result)?.status).toBe('succeeded')
      const b = await metricsB.text()
      expect(value(b, 'taskweave_tasks_finished_total{tool="test.ok",status="succeeded"}')).toBeUndefined()
      expect(b).not.toContain('not-started')
      expect(value(b, 'taskweave_tasks_finished_total{tool="test.hold",status="succeeded"}')).toBe(1)
      expect(value(b, 'taskweave_runs_finished_total{workflow="resumable",status="succeeded"}')).toBe(1)
    } finally {
      metricsB.close()
      await engineB.close()
    }
  })

  it('reads the limiter\'s keys at each scrape: permits held and waited for', async () => {
    const { tool, release } = heldTool()
    const engine = createEngine({ builtins: false, tools: [tool] })
    const metrics = await createEngineMetrics(engine)
    try {
      const handle = engine.start({ id: 'g', limits: { groups: { llm: 1 } }, tasks: [{ id: 'a', tool: 'test.hold', group: 'llm' }, { id: 'b', tool: 'test.hold', group: 'llm' }] })
      await new Promise<void>((resolve) => handle.on('task:started', () => resolve()))
      const text = await metrics.text()
      expect(value(text, 'taskweave_limiter_in_use{key="group:llm"}')).toBe(1)
      expect(value(text, 'taskweave_limiter_waiting{key="group:llm"}')).toBe(1)
      release()
      await handle.result
      expect(value(await metrics.text(), 'taskweave_limiter_in_use{key="group:llm"}')).toBeUndefined()
    } finally {
      metrics.close()
      await engine.close()
    }
  })
})
