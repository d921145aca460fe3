/**
 * Seed 004 (LAIOS tutorial 3, "Parallel Task Execution") step by step: a registry and an executor,
 * tasks built by hand, `executeParallel` (results in input order; the missing config file fails in
 * its own slot), `executeTask` with progress, metrics, `executeWithRetry`, and the context manager
 * as `await using`. Offline: the built-in fs tools read this repository, and the web fetch of step 6
 * is simulated by a tool that resets the connection twice before it answers.
 * Run from the repository root: npx tsx examples/seeds/004-parallel-executor.ts
 */
import { z } from 'zod'
import { defineTool, TaskweaveError } from 'taskweave'
import { ToolRegistry } from 'taskweave/ports'
import { builtinTools } from 'taskweave/tools'
import type { Duration } from 'taskweave/workflow'
import { createTask, Executor } from 'taskweave/compat/laios'
import type { Context, ProgressEvent, TaskMetrics, TaskResult } from 'taskweave/compat/laios'

/** Stands in for LAIOS's `web.fetch`: fails `failures` times with a retryable connection reset, then answers. */
export function createFlakyFetch(failures = 2) {
  let calls = 0
  return defineTool({
    name: 'web.fetch',
    description: 'Fetches a URL (simulated: the first calls reset the connection).',
    input: z.object({ url: z.string().url() }),
    run: ({ url }, ctx) => {
      ctx.signal.throwIfAborted()
      calls++
      if (calls <= failures) throw new TaskweaveError('ECONNRESET', `connection reset while fetching ${url} (simulated, call ${calls})`)
      return { url, status: 200, calls }
    },
  })
}

/** What the tutorial produced, step by step. */
export interface TutorialResult {
  readonly toolCount: number
  readonly parallel: readonly TaskResult[]
  readonly parallelTaskIds: readonly string[]
  readonly single: TaskResult
  readonly progressEvents: readonly ProgressEvent[]
  readonly metrics: readonly TaskMetrics[]
  readonly retry: TaskResult
  readonly scoped: TaskResult
  readonly asyncResult: TaskResult
}

/** Runs the tutorial and returns what each step produced (the tests call this). */
export async function main(options: { readonly log?: (line: string) => void; readonly retryDelay?: Duration } = {}): Promise<TutorialResult> {
  const log = options.log ?? console.log

  // Step 1: the registry and the executor (a 30-second timeout per task, 4 workers).
  const registry = new ToolRegistry([...builtinTools(), createFlakyFetch()])
  log(`Tools registered: ${registry.names().length}`)
  const executor = new Executor({ registry, limits: { timeout: '30s' }, maxWorkers: 4, monitoring: true })
  const context: Context = { sessionId: 'tutorial-03', userId: 'demo' }

  try {
    // Step 2: build tasks by hand (normally the planner makes them).
    const PLAN_ID = 'demo-plan-01'
    const tasks = [
      createTask({ planId: PLAN_ID, description: 'Read README.md', toolName: 'fs.readFile', parameters: { path: 'README.md' } }),
      createTask({ planId: PLAN_ID, description: 'List current directory', toolName: 'fs.listDirectory', parameters: { path: '.' } }),
      createTask({ planId: PLAN_ID, description: 'Read config file', toolName: 'fs.readFile', parameters: { path: 'config/default.yaml' } }),
    ]
    log(`\nTasks created: ${tasks.length}`)
    for (const t of tasks) log(`  - ${t.description ?? ''} → ${t.toolName}`)

    // Step 3: run them in parallel; the results come back in the order of `tasks`.
    log('\nRunning tasks in parallel...')
    const parallel = await executor.executeParallel(tasks, context)
    log(`\nResults (${parallel.length} total):`)
    for (const result of parallel) {
      log(`  [${result.success ? 'OK' : 'FAIL'}] ${result.taskId.slice(0, 8)} — ${result.executionTimeMs.toFixed(0)}ms`)
      if (result.success) log(`       ${JSON.stringify(result.output).slice(0, 80)}...`)
      else log(`       Error: ${result.error?.code}: ${result.error?.message}`)
    }

    // Step 4: one task with a progress callback.
    const progressEvents: ProgressEvent[] = []
    log('\nRunning single task with progress callback...')
    const single = await executor.executeTask(
      createTask({ planId: PLAN_ID, description: 'Get file info', toolName: 'fs.getInfo', parameters: { path: 'README.md' } }),
      context,
      {
        onProgress: (event, data) => {
          progressEvents.push(event)
          log(`  [Progress] ${event}: task=${data.taskId.slice(0, 8)}`)
        },
      },
    )
    log(`Result: success=${single.success}, time=${(single.executionTimeMs / 1000).toFixed(3)}s`)
    if (single.success) log(`Output: ${JSON.stringify(single.output)}`)

    // Step 5: the monitor kept each task's metrics.
    const metrics = executor.getAllMetrics()
    log(`\nMetrics collected: ${metrics.length}`)
    for (const m of metrics) {
      log(`  Task ${m.taskId.slice(0, 8)}:`)
      log(`    Execution time: ${(m.executionTimeMs / 1000).toFixed(3)}s`)
      log(`    Checkpoints: ${m.checkpoints.length}`)
      for (const cp of m.checkpoints) log(`      - ${cp.name}`)
    }

    // Step 6: retry a transient failure (3 retries, 500 ms before the first, doubling).
    log('\nRunning task with retry (max 3 retries)...')
    const retry = await executor.executeWithRetry(
      createTask({ planId: PLAN_ID, description: 'Fetch a web resource (may fail)', toolName: 'web.fetch', parameters: { url: 'https://httpbin.org/status/200' } }),
      context,
      { maxRetries: 3, retryDelay: options.retryDelay ?? '500ms' },
    )
    log(`Success: ${retry.success}`)
    log(`Retries used: ${retry.metadata.retries}`)
    log(`Retry exhausted: ${String(retry.metadata.retryExhausted)}`)

    // Step 7: the context manager is `await using`; leaving the block drains the executor.
    log('\nUsing await using...')
    let scoped: TaskResult
    {
      await using ex = new Executor({ registry, limits: { timeout: '10s' } })
      scoped = await ex.executeTask({ planId: 'cm-plan', description: 'Read README', toolName: 'fs.readFile', parameters: { path: 'README.md' } }, context)
      log(`Result inside the block: success=${scoped.success}`)
    }
    log('Executor shut down (drained).')

    // Step 8: inside an async application, `execute` is the coroutine form.
    const asyncResult = await executor.execute({ planId: PLAN_ID, description: 'List directory async', toolName: 'fs.listDirectory', parameters: { path: '.' } }, context)
    const items = (asyncResult.output as { entries?: unknown[] } | undefined)?.entries?.length ?? 0
    log(`Async result: success=${asyncResult.success}, items=${items}`)

    return { toolCount: registry.names().length, parallel, parallelTaskIds: tasks.map((t) => t.id), single, progressEvents, metrics, retry, scoped, asyncResult }
  } finally {
    // Cleanup: wait for anything still running, then release the engine.
    await executor.shutdown({ mode: 'drain' })
    log('\nExecutor shutdown complete.')
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
