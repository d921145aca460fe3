/** Shared tools for tests: deterministic, clock-driven, observable. */
import { z } from 'zod'
import { defineTool } from '../src/core/tool.js'
import { sleep } from '../src/core/clock.js'
import type { Clock } from '../src/core/clock.js'
import { TaskweaveError } from '../src/core/errors.js'

/** Tools whose durations and failures are scripted, with a log of what ran and when. */
export function scriptedTools(clock: Clock) {
  const started: string[] = []
  let running = 0
  let maxRunning = 0
  const attemptsByTask = new Map<string, number>()
  const work = defineTool({
    name: 'test.work',
    input: z.object({
      ms: z.number().default(10),
      value: z.unknown().optional(),
      failTimes: z.number().default(0),
      code: z.string().optional(),
      retryable: z.boolean().default(true),
    }),
    async run(input, ctx) {
      started.push(ctx.taskId)
      running++
      maxRunning = Math.max(maxRunning, running)
      try {
        await sleep(clock, input.ms, ctx.signal)
        const n = (attemptsByTask.get(ctx.taskId) ?? 0) + 1
        attemptsByTask.set(ctx.taskId, n)
        if (n <= input.failTimes) {
          throw new TaskweaveError(input.code ?? 'E_SCRIPTED', `scripted failure ${n} of ${ctx.taskId}`, { retryable: input.retryable })
        }
        return input.value ?? ctx.taskId
      } finally {
        running--
      }
    },
  })
  return {
    work,
    started,
    get maxRunning() {
      return maxRunning
    },
  }
}

/**
 * The `step` tool of the durable-run tests: records each task it runs in `calls`; a task named
 * in `hold` never returns (the process that runs it is about to die).
 */
export function stepTool(calls: string[], hold: Set<string>) {
  return defineTool({
    name: 'step',
    input: z.object({ id: z.string() }),
    run: async ({ id }) => {
      calls.push(id)
      if (hold.has(id)) await new Promise(() => undefined)
      return { id }
    },
  })
}

/** The three-task chain a → b → c of `step` tasks that the durable-run tests interrupt and resume. */
export const stepChain = {
  id: 'flow',
  tasks: [
    { id: 'a', tool: 'step', input: { id: 'a' } },
    { id: 'b', tool: 'step', input: { id: 'b' }, dependsOn: ['a'] },
    { id: 'c', tool: 'step', input: { id: 'c' }, dependsOn: ['b'] },
  ],
}
