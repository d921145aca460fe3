// Tools for the distributed process tests, loaded by `taskweave worker --tools` and by the
// owners. `ledger.work` appends a line when an attempt starts and when it ends to the file named by
// TW_LEDGER (appendFileSync: a killed process cannot lose what the kernel already has), with the
// worker's pid and wall times, the oracle the tests check: which task ran where, how often, and
// how many ran at once.
import { appendFileSync } from 'node:fs'
import { z } from 'zod'
import { defineTool } from '../../dist/lib/index.js'

function note(ctx, phase, extra = {}) {
  const file = process.env.TW_LEDGER
  if (file) appendFileSync(file, `${JSON.stringify({ runId: ctx.runId, taskId: ctx.taskId, attempt: ctx.attempt, attemptId: ctx.attemptId, pid: process.pid, phase, at: Date.now(), ...extra })}\n`)
}

export const work = defineTool({
  name: 'ledger.work',
  input: z.object({ n: z.number(), ms: z.number().optional() }),
  run: async ({ n, ms }, ctx) => {
    note(ctx, 'start')
    // TW_MAX_MS caps the wait: a worker started to finish what another left finishes it at once.
    const wait = Math.min(ms ?? 0, Number(process.env.TW_MAX_MS ?? Infinity))
    if (wait > 0) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, wait)
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          note(ctx, 'abort', { code: ctx.signal.reason?.code })
          reject(ctx.signal.reason)
        })
      })
    }
    note(ctx, 'end')
    return { n }
  },
})

/** Kills the process that runs it: a poison task. */
export const poison = defineTool({
  name: 'ledger.poison',
  input: z.object({}),
  run: (_input, ctx) => {
    note(ctx, 'poison')
    process.kill(process.pid, 'SIGKILL')
    return new Promise(() => undefined)
  },
})
