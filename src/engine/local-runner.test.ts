import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { AttemptRequest, AttemptSink } from '../core/attempt.js'
import { systemClock } from '../core/clock.js'
import { silentLogger } from '../core/logger.js'
import { defineTool } from '../core/tool.js'
import type { AnyTool, ToolContext } from '../core/tool.js'
import { LocalAttemptRunner } from './local-runner.js'

function request(tool: string, attemptId = 'r/t#1'): AttemptRequest {
  return { runId: 'r', taskId: 't', attempt: 1, attemptId, idempotencyKey: 'r/t', tool, input: {}, inputChecked: true, timeoutMs: undefined, priority: 0 }
}

/** A sink that records what the runner reported. */
function recordingSink(current = () => true) {
  const log: string[] = []
  const sink: AttemptSink = {
    progress: (p) => log.push(`progress ${p.message ?? ''}`),
    addTask: (spec) => spec,
    usage: () => undefined,
    limits: () => undefined,
    succeeded: (output) => log.push(`ok ${String(output)}`),
    failed: (err) => log.push(`failed ${err instanceof Error ? err.message : String(err)}`),
    isCurrent: current,
    endReason: () => new Error('ended'),
  }
  return { sink, log }
}

function runnerWith(...tools: AnyTool[]): LocalAttemptRunner {
  const byName = new Map(tools.map((t) => [t.name, t]))
  return new LocalAttemptRunner({ lookup: (name) => byName.get(name), clock: systemClock, logger: silentLogger })
}

describe('LocalAttemptRunner', () => {
  it('reports a synchronous result before start() returns', () => {
    const { sink, log } = recordingSink()
    runnerWith(defineTool({ name: 'sync', input: z.object({}), run: () => 7 })).start(request('sync'), sink)
    expect(log).toEqual(['ok 7'])
  })

  it('reports an async result and a rejection when their promises settle', async () => {
    const { sink, log } = recordingSink()
    const runner = runnerWith(
      defineTool({ name: 'ok', input: z.object({}), run: () => Promise.resolve('done') }),
      defineTool({ name: 'no', input: z.object({}), run: () => Promise.reject(new Error('nope')) }),
    )
    runner.start(request('ok'), sink)
    runner.start(request('no'), sink)
    expect(log).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['ok done', 'failed nope'])
  })

  it('fails an unknown tool and an unchecked input the schema rejects', () => {
    const { sink, log } = recordingSink()
    const runner = runnerWith(defineTool({ name: 'typed', input: z.object({ n: z.number() }), run: () => 1 }))
    runner.start(request('missing'), sink)
    runner.start({ ...request('typed'), input: { n: 'x' }, inputChecked: false }, sink)
    expect(log[0]).toContain('tool "missing" is not registered')
    expect(log[1]).toContain('input rejected by tool "typed"')
  })

  it('aborts the signal of a tracked attempt on cancel, and hands an ended attempt an aborted signal', () => {
    let ctx: ToolContext | undefined
    const runner = runnerWith(defineTool({ name: 'hold', input: z.object({}), run: (_i, c) => ((ctx = c), new Promise(() => {})) }))
    runner.start(request('hold', 'a#1'), recordingSink().sink)
    const signal = (ctx as ToolContext).signal
    runner.cancel('a#1', new Error('stop'))
    expect(signal.aborted).toBe(true)
    expect((signal.reason as Error).message).toBe('stop')

    runner.start(request('hold', 'b#1'), recordingSink(() => false).sink)
    expect((ctx as ToolContext).signal.aborted).toBe(true)
    expect(((ctx as ToolContext).signal.reason as Error).message).toBe('ended')
    expect((ctx as ToolContext).attemptId).toBe('b#1')
  })
})
