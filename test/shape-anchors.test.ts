import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Runs a workflow of timer tasks, an executor batch and a batch of background functions five times (the engine's code
 * gets optimized), collects with no run or background task alive, then runs both again, in a child
 * traced with `--trace-deopt`, on the built package.
 */
const script = `
const { createEngine, defineTool } = await import('taskweave')
const { z } = await import('zod')
const { Executor } = await import('taskweave/compat/laios')
const nap = defineTool({ name: 'nap', input: z.object({}), run: () => new Promise((resolve) => setTimeout(resolve, 1)) })
const count = defineTool({ name: 'count', input: z.object({ n: z.number() }), run: async ({ n }) => n })
const engine = createEngine({ builtins: false, tools: [nap, count], concurrency: 200 })
const spec = () => ({ id: 'naps', tasks: Array.from({ length: 2000 }, (_, i) => ({ id: 't' + i, tool: 'nap' })) })
const background = engine.background
const executor = new Executor({ engine, monitoring: false })
const batch = async () => {
  await executor.executeParallel(Array.from({ length: 3000 }, (_, i) => ({ id: 'c' + i, toolName: 'count', parameters: { n: i } })), { sessionId: 's' })
  const ids = Array.from({ length: 20000 }, (_, i) => background.submit({ conversationId: 'c' + (i % 10), name: 'small', run: async () => i }))
  await Promise.all(ids.map((id) => background.result(id)))
  for (let c = 0; c < 10; c++) background.endConversation('c' + c)
}
for (let i = 0; i < 5; i++) {
  await engine.run(spec(), { concurrency: 200 })
  await batch()
}
globalThis.gc()
for (let i = 0; i < 2; i++) {
  await engine.run(spec(), { concurrency: 200 })
  await batch()
}
await engine.close()
`

/** Functions of the engine's run path whose optimized code depends on its classes' maps. */
const ENGINE_FUNCTIONS = ['RunExecution', 'RunState', 'RunAttempt', 'LocalToolContext', '#startAttempt', '#attemptSucceeded', '#succeeded', '#pump', '#settle', '#makeReady', '#startRoots', 'compileTasks', 'compileBareTask', 'FunctionContext', '#runFunction', 'submit', '#forget', 'FlatInput', 'compileFlatCalls', 'flatInputShape', '#admitGroup', '#drain', '#releaseSlot']

describe('the engine between runs and background batches', () => {
  it('keeps its optimized code through a full collection while nothing runs', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--trace-deopt', '--input-type=module', '-e', script], { cwd: root, maxBuffer: 64 * 1024 * 1024 })
    const thrownAway = stdout
      .split('\n')
      .filter((line) => line.includes('reason: weak objects'))
      .map((line) => /SharedFunctionInfo ([^>]+)>/.exec(line)?.[1] ?? line)
    // The control: Node's own timers, which no object keeps, lose theirs at that collection, so
    // the trace has the expected form and the collection did free the maps of dead classes.
    expect(thrownAway.length).toBeGreaterThan(0)
    expect(thrownAway.filter((name) => ENGINE_FUNCTIONS.includes(name))).toEqual([])
  }, 60_000)
})
