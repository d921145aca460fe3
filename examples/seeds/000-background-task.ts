/**
 * Seed 000, "Basic Background Task": submit a coroutine-like function under a conversation, go on,
 * and read its result later. The TypeScript twin of
 *
 *   task_id = executor.submit_task(task_id="conversation123:my_task", coro=my_task())
 *   result = executor.get_task_result(task_id)
 *
 * Run: npx tsx examples/seeds/000-background-task.ts
 */
import { setTimeout as delay } from 'node:timers/promises'
import { createEngine } from 'taskweave'
import { ConcurrentExecutor } from 'taskweave/background'
import type { BackgroundContext, BackgroundOutcome, BackgroundTaskInfo } from 'taskweave/background'

/** Performs some work; honours the signal so cancelling it really stops it. */
async function myTask({ signal }: BackgroundContext): Promise<{ status: string; data: string }> {
  await delay(20, undefined, { signal })
  return { status: 'complete', data: 'processed' }
}

/** What the example returns (the tests assert it). */
export interface BackgroundTaskExample {
  readonly taskId: string
  /** Status right after submitting: the work has not started yet. */
  readonly statusAtSubmit: BackgroundTaskInfo['status'] | undefined
  readonly outcome: BackgroundOutcome<{ status: string; data: string }> | undefined
}

/** Runs the example. */
export async function main(log: (line: string) => void = console.log): Promise<BackgroundTaskExample> {
  await using engine = createEngine()
  // Once the engine exposes it, this is `engine.background`.
  await using executor = new ConcurrentExecutor({ engine })

  const taskId = executor.submit({ conversationId: 'conversation123', name: 'my_task', run: myTask })
  const statusAtSubmit = executor.status(taskId)?.status
  log(`submitted ${taskId} (${statusAtSubmit ?? 'unknown'})`)

  // … the conversation goes on; later, check the result:
  const outcome = await executor.result(taskId)
  log(`${taskId} ${outcome?.status ?? 'unknown'}: ${JSON.stringify(outcome?.value)}`)
  return { taskId, statusAtSubmit, outcome }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
