/**
 * Seed 003, example 2 (BeeAI parallel execution controller): dynamic task creation. A planner
 * agent writes a plan; when it completes, a handler adds one executor task per plan step, each
 * depending on the previous one, to the running workflow. The added tasks join the same report
 * (`addedBy: 'create_plan'`). Agents are simulated, deterministic, and honour `ctx.signal`.
 * Run: npx tsx examples/seeds/003-dynamic-planning.ts
 */
import { sleep, systemClock } from 'taskweave'
import type { Clock } from 'taskweave'
import { WorkflowOrchestrator } from 'taskweave/compat/beeai'
import type { AgentContext, AgentData, WorkflowResult } from 'taskweave/compat/beeai'

/** The planner's output (BeeAI: `task_result.plan.steps`). */
export interface PlanOutput {
  readonly plan: { readonly objective: string; readonly steps: readonly string[] }
}

/** An executor step's output: the steps completed so far, in order. */
export interface StepOutput {
  readonly step: string
  readonly completed: readonly string[]
}

/** The two simulated agents (BeeAI: PlannerAgent, ExecutorAgent). */
export function createAgents(clock: Clock) {
  return {
    planner: async (data: AgentData, ctx: AgentContext): Promise<PlanOutput> => {
      const objective = String(data['objective'])
      await sleep(clock, 30, ctx.signal)
      const steps = ['collect interaction data', 'engineer features', 'train a collaborative-filtering model', 'evaluate offline metrics', 'deploy the recommendation API']
      return { plan: { objective, steps } }
    },
    // Builds on the previous step's output, which arrives through ctx.dependencies.
    executor: async (data: AgentData, ctx: AgentContext): Promise<StepOutput> => {
      const previous = Object.values(ctx.dependencies)[0] as StepOutput | undefined
      const step = String(data['step'])
      ctx.progress({ message: `executing: ${step}` })
      await sleep(clock, 15, ctx.signal)
      return { step, completed: [...(previous?.completed ?? []), step] }
    },
  }
}

/** Runs the example and returns the workflow result (the tests call this with a ManualClock). */
export async function main(options: { readonly clock?: Clock; readonly log?: (line: string) => void } = {}): Promise<WorkflowResult> {
  const clock = options.clock ?? systemClock
  const log = options.log ?? console.log
  const orchestrator = new WorkflowOrchestrator({
    agents: createAgents(clock),
    parallelExecution: true,
    dynamicTasks: true, // allow runtime task creation
    clock,
  })

  orchestrator.addTask({ id: 'create_plan', agentType: 'planner', data: { objective: 'Build a recommendation system' } })

  // Create one execution task per plan step, chained, while the workflow runs.
  orchestrator.onTaskComplete('create_plan', (result, run) => {
    if (result.status !== 'succeeded') return
    const { plan } = result.output as PlanOutput
    plan.steps.forEach((step, i) => {
      run.addTask({ id: `execute_step_${i}`, agentType: 'executor', data: { step }, dependencies: i === 0 ? [] : [`execute_step_${i - 1}`] })
    })
    log(`plan ready: ${plan.steps.length} steps added`)
  })

  const result = await orchestrator.executeWorkflow({
    onEvent: (event) => {
      if (event.type === 'task:succeeded') log(`✔ ${event.taskId}`)
    },
  })
  const ids = Object.keys(result.results).filter((id) => id.startsWith('execute_step_'))
  const last = result.results[ids[ids.length - 1] ?? ''] as StepOutput | undefined
  log(`workflow ${result.status}: ${last?.completed.join(' → ') ?? 'nothing executed'}`)
  return result
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
