/**
 * The `llm.plan` tool: plans a workflow for a goal while a workflow runs, and adds the planned
 * tasks to that run (`ctx.addTask`). They join once the planning attempt succeeds, run as soon as
 * their own dependencies allow, and appear in the same run report.
 *
 * A tool cannot reach the engine's registry from its context, so the tools a plan may use are an
 * option: pass the engine's registry (`tools: engine.registry`, read at each call, so tools
 * registered later count too), a function returning it (to make the tool before the engine), or a
 * fixed list. The planner tool itself is never offered to the model, so a plan cannot plan again.
 * @module
 */
import { z } from 'zod'
import { InvalidOptionError } from '../../core/errors.js'
import { ToolRegistry } from '../../core/registry.js'
import { defineTool, type Tool } from '../../core/tool.js'
import type { Env } from '../chat/config.js'
import { parseProviderLimits } from '../chat/headers.js'
import { costOf, DEFAULT_PRICES, type PriceTable } from '../chat/prices.js'
import { plannerRegistry, type PlannerTools } from './catalogue.js'
import { plannerClient, type PlannerLlm } from './llm.js'
import { runPlanner } from './plan.js'
import { prefixTasks } from './prefix.js'

/** Where the planner tool finds the tools a plan may use: tools, or a function giving them at each call. */
export type PlannerToolSource = PlannerTools | (() => PlannerTools)

/** Options of {@link createPlannerTool}. */
export interface PlannerToolOptions {
  /** The model to ask (a connection or an `OpenAI` client), fixed here: a workflow cannot redirect it. */
  readonly llm: PlannerLlm
  /**
   * The tools plans may use. The engine's registry is the usual choice (`tools: engine.registry`
   * after creating the engine, or `tools: () => engine.registry` before); the planned tasks are
   * added to the run, and the engine checks them against its own tools, so tools it lacks fail
   * the planning attempt.
   */
  readonly tools: PlannerToolSource
  /** The tool's name. @default 'llm.plan' */
  readonly name?: string
  /** The model, instead of the connection's default. */
  readonly model?: string
  /** Corrected answers asked for after an invalid one. @default 1 */
  readonly maxRepairs?: number
  /** Prices turning usage into `costUsd` for run budgets. @default DEFAULT_PRICES */
  readonly prices?: PriceTable
  /** Environment the connection's defaults are read from. @default process.env */
  readonly env?: Env
}

/** The input of `llm.plan`. */
export const planToolInput = z
  .object({
    goal: z.string().min(1).describe('What the planned tasks are to achieve, in words (may hold {{ templates }}).'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,64}$/, 'must be at most 64 letters, digits, _ or -')
      .optional()
      .describe('Put before every planned task id. Default: this task\'s id and "-".'),
  })
  .strict()

/** What `llm.plan` returns. */
export interface PlanToolOutput {
  /** Ids of the tasks added to the run (prefixed), in the order they were added (parents first). */
  readonly added: string[]
}

/** The `llm.plan` tool. */
export type PlannerTool = Tool<typeof planToolInput, PlanToolOutput>

/**
 * Creates `llm.plan`: give it a `goal`, and the tasks a model plans for it join the running
 * workflow, ids prefixed (`<taskId>-` unless `prefix` says otherwise) and their dependencies and
 * `{{ tasks.… }}` templates renamed to match. A plan still invalid after the repairs fails the
 * task with `TW_PLAN` (not retried); tokens are reported to the run (`ctx.reportUsage`) per call,
 * so budgets count them whether the plan succeeds or not.
 *
 * @example
 * const engine = createEngine()
 * engine.registry.register(createPlannerTool({ llm: { model: 'gpt-4o-mini' }, tools: engine.registry }))
 * await engine.run({ id: 'w', tasks: [{ id: 'plan', tool: 'llm.plan', input: { goal: 'Summarise README.md and package.json' } }] })
 */
export function createPlannerTool(options: PlannerToolOptions): PlannerTool {
  const { name = 'llm.plan', prices = DEFAULT_PRICES } = options
  if (typeof name !== 'string' || !/^[A-Za-z][\w.-]{0,127}$/.test(name)) throw new InvalidOptionError('plan.name', 'a tool name matching /^[A-Za-z][\\w.-]{0,127}$/', name)
  if (options.tools === undefined || options.tools === null) throw new InvalidOptionError('plan.tools', 'the tools plans may use (engine.registry, a function returning it, or a list)', options.tools)
  const client = plannerClient(options.llm, options.env ?? process.env, options.model)
  // A plain iterable is copied now: a generator or another one-shot iterable would be empty at the second call.
  const source: PlannerToolSource = typeof options.tools === 'function' || options.tools instanceof ToolRegistry ? options.tools : [...options.tools]
  return defineTool({
    name,
    description: 'Plans a workflow for a goal with a language model and adds its tasks to this run; returns the ids of the added tasks.',
    input: planToolInput,
    cost: 5000,
    idempotent: true,
    rateKey: `${client.provider}:${client.model}`,
    async run(input, ctx) {
      const registry = toolsOf(source, name)
      const planned = await runPlanner(client, registry, {
        goal: input.goal,
        signal: ctx.signal,
        maxRepairs: options.maxRepairs,
        onAnswer: (usage, model) => ctx.reportUsage?.({ ...usage, model, costUsd: costOf(usage, model, prices) ?? costOf(usage, client.model, prices) }),
        onHeaders: (headers) => {
          const limits = parseProviderLimits(headers)
          if (limits !== undefined) ctx.reportLimits?.(limits)
        },
        now: () => ctx.clock?.wallNow() ?? Date.now(),
      })
      const tasks = prefixTasks(planned.spec.tasks, input.prefix ?? `${ctx.taskId}-`)
      // Added parents first (the compiled plan's topological order; tasks keep their plan index):
      // an added task may depend only on tasks already in the run or added before it.
      const ordered = planned.workflow.order.map((i) => tasks[i] as (typeof tasks)[number])
      for (const task of ordered) ctx.addTask(task)
      return { added: ordered.map((task) => task.id) }
    },
  })
}

/** The registry plans are compiled against, without the planner tool itself. */
function toolsOf(source: PlannerToolSource, self: string): ToolRegistry {
  const tools = typeof source === 'function' ? source() : source
  return plannerRegistry(tools, [self])
}
