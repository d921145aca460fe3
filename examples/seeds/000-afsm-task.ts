/**
 * Seed 000, "AFSM Task Execution": a user-verification state machine (initial → processing →
 * final) submitted as a background task with `{ user_data: 'example' }`, then its final state,
 * final context and transition history. The TypeScript twin of
 *
 *   task_id = fsm_executor.submit_fsm_task(conversation_id="conversation123", initial_state="initial_state",
 *                                          state_map=state_map, context={"user_data": "example"}, task_name="user_verification")
 *   result = fsm_executor.get_task_result(task_id)
 *
 * Run: npx tsx examples/seeds/000-afsm-task.ts
 */
import { setTimeout as delay } from 'node:timers/promises'
import { FsmExecutor } from 'taskweave/background'
import { DONE } from 'taskweave/state-machines'
import type { StateMachineResult, StateSpec } from 'taskweave/state-machines'

/** The context the machine carries; states return a new one rather than mutating it. */
export interface VerificationContext {
  readonly user_data: string
  readonly checks?: readonly string[]
  readonly verified?: boolean
}

type State = 'initial_state' | 'processing_state' | 'final_state'

/** The seed's `state_map`: one object per state. */
export const stateMap: { readonly [K in State]: StateSpec<VerificationContext, State> } = {
  // MyInitialState: validates the input and moves on.
  initial_state: {
    run: ({ context }) => (context.user_data.length > 0 ? { next: 'processing_state', context: { ...context, checks: ['input present'] } } : 'final_state'),
  },
  // MyProcessingState: the slow part (a lookup), retried if it fails, bounded by a timeout.
  processing_state: {
    timeout: '5s',
    retry: { maxAttempts: 3, delay: '100ms' },
    run: async ({ context, signal }) => {
      await delay(20, undefined, { signal })
      return { next: 'final_state', context: { ...context, checks: [...(context.checks ?? []), 'record found'] } }
    },
  },
  // MyFinalState: records the verdict and ends the machine.
  final_state: {
    run: ({ context }) => ({ next: DONE, context: { ...context, verified: (context.checks ?? []).includes('record found') } }),
  },
}

/** What the example returns (the tests assert it). */
export interface AfsmExample {
  readonly taskId: string
  readonly result: StateMachineResult<VerificationContext, State> | undefined
}

/** Runs the example. */
export async function main(log: (line: string) => void = console.log): Promise<AfsmExample> {
  await using fsmExecutor = new FsmExecutor()
  const taskId = fsmExecutor.submit({
    conversationId: 'conversation123',
    initialState: 'initial_state',
    states: stateMap,
    context: { user_data: 'example' },
    name: 'user_verification',
  })
  log(`submitted ${taskId}`)

  // Later, retrieve the result: final state, final context and every transition.
  const result = await fsmExecutor.result(taskId)
  for (const t of result?.transitions ?? []) log(`  ${t.from} → ${t.to ?? 'done'} (${t.durationMs.toFixed(1)} ms)`)
  log(`${result?.status ?? 'unknown'} in ${result?.finalState ?? '?'}: ${JSON.stringify(result?.context)}`)
  return { taskId, result }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
