/**
 * The library, in code: a typed workflow built with `workflow()`, tools checked by TypeScript,
 * live events, and tasks added while the run goes on (a plan whose steps become tasks).
 * Run: npx tsx examples/typed-builder/main.ts
 */
import { z } from 'zod'
import { createEngine, defineTool, workflow } from 'taskweave'
import type { RunResult } from 'taskweave'

const plan = defineTool({
  name: 'agent.plan',
  input: z.object({ goal: z.string() }),
  run: ({ goal }) => ({ steps: [`outline ${goal}`, `draft ${goal}`, `review ${goal}`] }),
})

const act = defineTool({
  name: 'agent.act',
  input: z.object({ step: z.string(), previous: z.string().optional() }),
  run: async ({ step, previous }, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 10))
    ctx.signal.throwIfAborted()
    return previous ? `${previous} → ${step}` : step
  },
})

/** Runs the example and returns its result (the tests call this). */
export async function main(log: (line: string) => void = console.log): Promise<RunResult> {
  await using engine = createEngine({ tools: [act] })
  const flow = workflow({ id: 'plan-and-act', inputs: { goal: { type: 'string' } } })
    .task('plan', plan, { input: { goal: '{{ inputs.goal }}' } })
    .build()

  const handle = engine.start(flow, {
    inputs: { goal: 'the launch post' },
    // When the plan is ready, chain one task per step: each reads the previous step's output.
    onTaskComplete: {
      plan: ({ output }, run) => {
        const { steps } = output as { steps: string[] }
        steps.forEach((step, i) =>
          run.addTask({
            id: `step-${i + 1}`,
            tool: 'agent.act',
            input: i === 0 ? { step } : { step, previous: `{{ tasks.step-${i}.output }}` },
          }),
        )
      },
    },
  })
  handle.on('task:succeeded', (event) => log(`✔ ${event.taskId}`))
  const result = await handle.result
  log(`run ${result.status}: ${String(result.tasks['step-3']?.output)}`)
  return result
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
