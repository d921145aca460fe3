/** Shared tools for tests: deterministic, clock-driven, observable. */
import { z } from 'zod'
import { defineTool } from '../src/core/tool.js'
import { sleep } from '../src/core/clock.js'
import type { Clock } from '../src/core/clock.js'
import { TaskweaveError } from '../src/core/errors.js'
import type { RunStore } from '../src/core/store.js'

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

/**
 * `store` as an engine of another process would use it: the same runs, but a different object,
 * so an engine made on it is not one of this process's live engines on `store` (whose runs
 * another engine never takes over). Tests stand for a process that dies with it: its engine
 * stays up, its tool never returns, and another engine on `store` resumes its runs.
 */
export function inAnotherProcess(store: RunStore): RunStore {
  return {
    kind: store.kind,
    location: store.location,
    exclusive: store.exclusive,
    ...(store.now !== undefined ? { now: store.now.bind(store) } : {}),
    createRun: (run, lease) => store.createRun(run, lease),
    acquire: (runId, lease) => store.acquire(runId, lease),
    renew: (leases, now, ttlMs) => store.renew(leases, now, ttlMs),
    release: (leases) => store.release(leases),
    append: (batches) => store.append(batches),
    ...(store.reopen !== undefined ? { reopen: store.reopen.bind(store) } : {}),
    load: (runId) => store.load(runId),
    list: (filter) => store.list(filter),
    prune: (options) => store.prune(options),
    close: () => store.close(),
  }
}

/** The rejection of `promise`, which must reject (a test fails with "expected a rejection" otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/**
 * A tool (`test.hold` unless named) whose calls wait until `release()` (or their attempt is
 * aborted), then return 3: for tests that need a task running at a chosen moment.
 */
export function heldTool(name = 'test.hold') {
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  const tool = defineTool({
    name,
    input: z.object({}),
    run: async (_input, ctx) => {
      await new Promise<void>((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true })
        void held.then(resolve)
      })
      return 3
    },
  })
  return { tool, release: () => release() }
}
