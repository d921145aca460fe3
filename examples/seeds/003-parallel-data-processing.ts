/**
 * Seed 003, example 1 (BeeAI parallel execution controller): parallel data processing → analysis
 * → report. Four datasets are processed at once (at most 2 at a time in the `data_processing`
 * group), each analysis starts as soon as its own dataset is ready, and the report waits for all.
 * The agents are simulated: deterministic data, small delays on the injected clock, and they
 * honour `ctx.signal`.
 * Run: npx tsx examples/seeds/003-parallel-data-processing.ts
 */
import { sleep, systemClock } from 'taskweave'
import type { Clock } from 'taskweave'
import { WorkflowOrchestrator } from 'taskweave/compat/beeai'
import type { AgentContext, AgentData, AgentTask, WorkflowResult } from 'taskweave/compat/beeai'

/** The datasets (in BeeAI: `datasets`, each with an id and a path). */
export const DATASETS = [
  { id: 'sales', path: 'data/sales.csv', values: [12, 15, 14, 18, 21] },
  { id: 'traffic', path: 'data/traffic.csv', values: [300, 280, 265, 270, 240] },
  { id: 'signups', path: 'data/signups.csv', values: [5, 5, 6, 5, 5] },
  { id: 'churn', path: 'data/churn.csv', values: [8, 7, 9, 10, 12] },
] as const

interface Processed {
  readonly dataset: string
  readonly rows: number
  readonly values: readonly number[]
  readonly mean: number
}

interface Analysis {
  readonly dataset: string
  readonly analysisType: string
  readonly slope: number
  readonly trend: 'rising' | 'falling' | 'flat'
}

/** The report agent's output. */
export interface Report {
  readonly reportType: string
  readonly datasets: number
  readonly rising: readonly string[]
  readonly falling: readonly string[]
  readonly flat: readonly string[]
  readonly summary: string
}

/** The three simulated agents (BeeAI: DataProcessingAgent, AnalysisAgent, ReportAgent). */
export function createAgents(clock: Clock) {
  return {
    // "Loads" the dataset at data.dataset and computes basic statistics.
    data_processing: async (data: AgentData, ctx: AgentContext): Promise<Processed> => {
      const found = DATASETS.find((d) => d.path === data['dataset'])
      if (found === undefined) throw new Error(`no dataset at ${String(data['dataset'])}`)
      await sleep(clock, 40, ctx.signal)
      const mean = found.values.reduce((a, b) => a + b, 0) / found.values.length
      return { dataset: found.id, rows: found.values.length, values: found.values, mean: round(mean) }
    },
    // Trend detection on the output of the one data task this analysis depends on.
    analysis: async (data: AgentData, ctx: AgentContext): Promise<Analysis> => {
      const input = Object.values(ctx.dependencies)[0] as Processed
      await sleep(clock, 20, ctx.signal)
      const slope = round(leastSquaresSlope(input.values))
      const trend = slope > 0.5 ? 'rising' : slope < -0.5 ? 'falling' : 'flat'
      return { dataset: input.dataset, analysisType: String(data['analysis_type']), slope, trend }
    },
    // Executive summary of every analysis, in dependency order.
    report: async (data: AgentData, ctx: AgentContext): Promise<Report> => {
      const analyses = Object.values(ctx.dependencies) as Analysis[]
      await sleep(clock, 10, ctx.signal)
      const pick = (trend: Analysis['trend']): string[] => analyses.filter((a) => a.trend === trend).map((a) => a.dataset)
      const rising = pick('rising')
      const falling = pick('falling')
      const flat = pick('flat')
      const summary = `${analyses.length} datasets: ${rising.length} rising (${rising.join(', ')}), ${falling.length} falling (${falling.join(', ')}), ${flat.length} flat (${flat.join(', ')})`
      return { reportType: String(data['report_type']), datasets: analyses.length, rising, falling, flat, summary }
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
    maxConcurrentTasks: 10,
    concurrencyLimits: { data_processing: 2, analysis: 2 },
    clock,
  })

  // These tasks can run in parallel.
  const dataTasks: AgentTask[] = DATASETS.map((dataset) => ({
    id: `process_data_${dataset.id}`,
    agentType: 'data_processing',
    data: { dataset: dataset.path },
    concurrencyGroup: 'data_processing',
  }))
  // Analysis tasks depend on data processing.
  const analysisTasks: AgentTask[] = dataTasks.map((dataTask, i) => ({
    id: `analyze_data_${i}`,
    agentType: 'analysis',
    data: { analysis_type: 'trend_detection' },
    dependencies: [dataTask.id],
    concurrencyGroup: 'analysis',
  }))
  // The report depends on every analysis.
  const reportTask: AgentTask = {
    id: 'generate_report',
    agentType: 'report',
    data: { report_type: 'executive_summary' },
    dependencies: analysisTasks.map((t) => t.id),
  }
  for (const task of [...dataTasks, ...analysisTasks, reportTask]) orchestrator.addTask(task)

  const started = clock.now()
  const result = await orchestrator.executeWorkflow({
    onEvent: (event) => {
      if (event.type === 'task:started' || event.type === 'task:succeeded') log(`${String(Math.round(event.at - started)).padStart(4)} ms  ${event.type.padEnd(14)} ${event.taskId}`)
    },
  })
  log(`workflow ${result.status} in ${Math.round(result.report.durationMs)} ms`)
  log((result.results['generate_report'] as Report | undefined)?.summary ?? 'no report')
  return result
}

function leastSquaresSlope(values: readonly number[]): number {
  const n = values.length
  const meanX = (n - 1) / 2
  const meanY = values.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  values.forEach((y, x) => {
    num += (x - meanX) * (y - meanY)
    den += (x - meanX) ** 2
  })
  return den === 0 ? 0 : num / den
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
