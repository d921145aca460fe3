import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { TaskweaveError } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import type { ToolContext } from '../core/tool.js'
import { uncloneableReason } from './cloneable.js'
import { WorkerPools } from './pools.js'
import { defineWorkerTool } from './worker-tool.js'

const pools = new WorkerPools()
afterAll(() => pools.close())

const context: ToolContext = { signal: new AbortController().signal, runId: 'run', taskId: 'task', attempt: 1, idempotencyKey: 'run/task', logger: silentLogger, progress() {}, addTask() {} }

describe('a worker result that cannot be cloned', () => {
  it('is described with the part that cannot cross and where it is', () => {
    expect(uncloneableReason({ a: [1, { fn: () => 1 }] })).toMatch(/could not be cloned.*\(at output\.a\[1\]\.fn\)/)
    expect(uncloneableReason({ a: [1, { d: new Date(0) }], m: new Map([[1, 2]]) })).toBeUndefined()
    expect(uncloneableReason('text')).toBeUndefined()
  })

  it('fails the task with TW_WORKER_OUTPUT saying so, not "[object Object]"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tw-uncloneable-'))
    const module = join(dir, 'work.mjs')
    // A JavaScript module: no tsx start-up in the thread.
    await writeFile(module, 'export default function work() { return { ok: 1, callback: () => 1 } }\n')
    const tool = defineWorkerTool({ name: 'bad.result', input: z.object({}), module, pools, pool: { maxThreads: 1 } })
    const err = await Promise.resolve(tool.run({}, context)).catch((e: unknown) => e)
    expect(TaskweaveError.is(err, 'TW_WORKER_OUTPUT')).toBe(true)
    expect((err as Error).message).toMatch(/returned a value that cannot be sent back from its thread: .*could not be cloned.*\(at output\.callback\)\. Return plain data/)
    expect((err as TaskweaveError).retryable).toBe(false)
  })
})
