import { describe, expect, it } from 'vitest'
import { main } from '../src/cli/main.js'
import { main as typedBuilder } from '../examples/typed-builder/main.js'
import { main as llmQuota } from '../examples/llm-quota/main.js'
import { main as httpApi } from '../examples/http-api/main.js'
import { main as mcpTools } from '../examples/mcp-tools/main.js'
import type { RunResult } from '../src/engine/report.js'
import { captureIo } from './cli-io.js'

async function runJson(args: string[]): Promise<{ code: number; result: RunResult }> {
  const io = captureIo()
  const code = await main(['run', ...args, '--json'], io)
  return { code, result: JSON.parse(io.out.join('\n')) as RunResult }
}

describe('examples', () => {
  it('mcp-tools lists a glossary MCP server\'s terms, defines each through its tool in parallel, and writes the page', async () => {
    const lines: string[] = []
    const result = await mcpTools((line) => lines.push(line))
    expect(result.status).toBe('succeeded')
    expect(lines[0]).toBe('connected to glossary 1.0.0: mcp.glossary.list_terms, mcp.glossary.define')
    expect(result.tasks['define[1]']).toMatchObject({ status: 'succeeded', tool: 'mcp.glossary.define', output: { term: 'rate key', definition: expect.stringContaining('quota') as unknown } })
    expect(String(result.tasks['page']?.output).split('\n')).toEqual([
      'dag: a graph of tasks whose edges say which runs after which, with no cycle',
      'rate key: a name that tasks sharing one provider quota count against',
      'attempt: one try of a task; a retry is the next attempt',
    ])
  })

  it('analyse-source lists, reads and measures every file, then reports', async () => {
    const { code, result } = await runJson(['examples/analyse-source/workflow.yaml', '--input', 'root=examples'])
    expect(code).toBe(0)
    expect(result.status).toBe('succeeded')
    const report = result.tasks['report']!.output as { files: number; lines: number; largest: string[] }
    const listed = (result.tasks['list']!.output as { entries: unknown[] }).entries.length
    expect(report.files).toBe(listed)
    expect(report.files).toBeGreaterThanOrEqual(4)
    expect(report.lines).toBeGreaterThan(100)
    expect(result.tasks['measure[0]']).toMatchObject({ status: 'succeeded', forEachOf: 'measure' })
  })

  it('flaky-retry absorbs two connection resets and takes the low-stock branch', async () => {
    const { code, result } = await runJson(['examples/flaky-retry/workflow.yaml'])
    expect(code).toBe(0)
    expect(result.tasks['inventory']).toMatchObject({ status: 'succeeded', attempts: 3, output: { stock: 7, checkedOnAttempt: 3 } })
    expect(result.tasks['inventory']!.failedAttempts!.map((a) => a.error.code)).toEqual(['ECONNRESET', 'ECONNRESET'])
    expect(result.tasks['restock']!.status).toBe('succeeded')
    expect(result.tasks['all-good']).toMatchObject({ status: 'skipped', reason: 'condition is false: tasks.inventory.output.stock >= inputs.threshold' })
    expect(result.tasks['audit']!.output).toEqual({ sent: 'inventory check finished; restock=succeeded, all-good=skipped' })
  })

  it('flaky-retry reports a partial run when the service never recovers', async () => {
    const { code, result } = await runJson(['examples/flaky-retry/workflow.yaml', '--input', 'failures=9'])
    expect(code).toBe(1)
    expect(result.status).toBe('partial')
    expect(result.tasks['inventory']).toMatchObject({ status: 'failed', attempts: 4, error: { code: 'ECONNRESET' } })
    expect(result.tasks['inventory']!.blocked).toEqual(['restock', 'all-good'])
    expect(result.tasks['audit']!.status).toBe('succeeded')
  })

  it('research-pipeline fans out twice under the llm group limit and writes the brief', async () => {
    const { code, result } = await runJson(['examples/research-pipeline/workflow.yaml', '--input', 'topic=octopuses', '--input', 'questions=4'])
    expect(code).toBe(0)
    const brief = result.tasks['brief']!.output as string
    expect(brief.split('\n')).toHaveLength(6)
    expect(brief).toContain('Brief: octopuses')
    expect(brief).toContain('1. Findings on "habitat of octopuses" from three sources.')
    // No more than 3 "llm" group tasks ever overlap.
    const owners = new Set(Object.values(result.tasks).map((t) => t.forEachOf))
    const llm = Object.values(result.tasks).filter((t) => (t.tool === 'sim.llm' || t.tool === 'sim.plan') && !owners.has(t.id))
    expect(llm).toHaveLength(6)
    for (const task of llm) {
      const overlapping = llm.filter((other) => other.startedAt! <= task.startedAt! && other.finishedAt! > task.startedAt!)
      expect(overlapping.length).toBeLessThanOrEqual(3)
    }
  })

  it('typed-builder chains the planned steps added at run time', async () => {
    const lines: string[] = []
    const result = await typedBuilder((line) => lines.push(line))
    expect(result.status).toBe('succeeded')
    expect(result.tasks['step-3']!.output).toBe('outline the launch post → draft the launch post → review the launch post')
    expect(lines.at(-1)).toBe('run succeeded: outline the launch post → draft the launch post → review the launch post')
  })
})

describe('examples: llm-quota', () => {
  it('summarises 150 notes against the fake provider past one window of its quota with no 429, and reports usage', async () => {
    const lines: string[] = []
    const report = await llmQuota((line) => lines.push(line), 150)
    expect(report.result.status).toBe('succeeded')
    // At most one of the 151 calls is refused, once, and bounced back without spending an attempt:
    // usually none; when one is, most often the last and largest (the digest, a ~15,000-token
    // prompt against a 20,000-token window), and on a loaded machine, whose slower transit the
    // provider counts at arrival, a fan-out call. See the rate-key notes in docs/llm.md.
    const bounced = Object.values(report.result.tasks).filter((task) => (task.throttled ?? 0) > 0)
    expect(bounced.length).toBeLessThanOrEqual(1)
    for (const task of bounced) expect([task.id, task.throttled, task.attempts]).toEqual([task.id, 1, 1])
    expect(report.rateLimited).toBeLessThanOrEqual(1)
    expect(report.requests).toBe(151 + report.rateLimited)
    // 120 requests fit the first window; the other 31 wait for the bucket to refill (20 per second).
    expect(report.seconds).toBeGreaterThan(1.4)
    expect(report.result.usage?.calls).toBe(151)
    expect(report.result.tasks['summarise[0]']).toMatchObject({ status: 'succeeded', rateKey: 'fake:gpt-4o-mini' })
    expect(lines[0]).toMatch(/^run succeeded in .* 15[12] requests, [01] answered 429$/)
  }, 60_000)

  it('stops starting calls once the run budget is spent: the run is partial, with the reason', async () => {
    const report = await llmQuota(() => {}, 60, 3000)
    expect(report.result.status).toBe('partial')
    expect(report.result.reason).toMatch(/budget exhausted: \d+ tokens used of maxTokens 3000/)
    expect(report.result.counts.skipped).toBeGreaterThan(0)
    expect(report.rateLimited).toBe(0)
  }, 60_000)

  it('http-api starts a run over HTTP, follows its events, reads it back and scrapes the metrics', async () => {
    const lines: string[] = []
    const run = await httpApi((line) => lines.push(line))
    expect(run.status).toBe('succeeded')
    expect(run.labels).toEqual({ source: 'api', team: 'docs' })
    expect(run.tasks.map((task) => [task.id, task.status])).toEqual([['docs', 'succeeded'], ['blog', 'succeeded'], ['summary', 'succeeded']])
    expect(lines[0]).toMatch(/^started run .+ \(201\)$/)
    expect(lines.filter((line) => line.includes(' succeeded in '))).toHaveLength(3)
    expect(lines).toContain('  run succeeded')
    expect(lines).toContain('summary: {"pages":2,"words":4800}')
    expect(lines.at(-1)).toBe('taskweave_runs_finished_total{workflow="read-and-summarize",status="succeeded"} 1')
  })
})
