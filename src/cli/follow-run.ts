/**
 * Shared by `run` and `resume`: shows a run's progress (a live table on a terminal, a compact log
 * elsewhere, every event with `--verbose`), then its summary or JSON report, and gives the exit code.
 * @module
 */
import type { RunHandle } from '../engine/engine.js'
import type { Clock } from '../core/clock.js'
import type { RunStore } from '../core/store.js'
import type { RunResult } from '../engine/report.js'
import type { CompiledWorkflow } from '../workflow/compile.js'
import { createCompactView } from './compact-view.js'
import { EXIT } from './io.js'
import { resolveHint } from '../engine/resolve-parked.js'
import type { CliIo } from './io.js'
import { createLineView, createLiveView } from './progress.js'
import type { ProgressView } from './progress.js'
import { formatSummary } from './summary.js'

/** How to show a run. */
export interface FollowOptions {
  readonly json: boolean
  readonly quiet: boolean
  readonly verbose?: boolean
}

/**
 * Shows `handle`'s progress and result; resolves the exit code and the result. With `store` (a
 * durable run), a run that stopped unfinished gets the command that continues it.
 */
export async function followRun(
  handle: RunHandle,
  workflow: CompiledWorkflow,
  clock: Clock,
  options: FollowOptions,
  io: CliIo,
  store?: RunStore,
  resume = `taskweave resume ${handle.id}`,
): Promise<{ readonly code: number; readonly result: RunResult }> {
  let view: ProgressView | undefined
  try {
    if (!options.quiet) {
      const write = options.json ? (line: string) => io.stderr(line) : (line: string) => io.stdout(line)
      view =
        io.isTTY && !options.json
          ? createLiveView(io.stdoutStream, workflow.ids, () => clock.now())
          : options.verbose === true
            ? createLineView(write)
            : createCompactView(write, clock)
      const sink = view
      handle.onAny((event) => sink.handle(event))
    }
    const parked: { readonly taskId: string }[] = []
    handle.on('run:parked', (event) => void parked.push(event))
    let suspended = false
    handle.on('run:finished', (event) => void (suspended = event.suspended === true))
    const result = await handle.result
    view?.stop()
    if (options.json) io.stdout(JSON.stringify(result, null, 2))
    else {
      const { childStart } = workflow.graph
      const leaves = workflow.ids.filter((_id, i) => childStart[i] === childStart[i + 1])
      io.stdout(formatSummary(result, { outputs: leaves, suspended }))
    }
    if (parked.length > 0) {
      io.stderr(`run ${handle.id} is parked: the outcome of ${parked.map((event) => event.taskId).join(', ')} is unknown. Find out what happened, record it, then resume:`)
      for (const event of parked) io.stderr(`  ${resolveHint(handle.id, event.taskId)}`)
      io.stderr(`  ${resume}`)
      return { code: EXIT.parked, result }
    }
    if (store !== undefined && (await store.load(handle.id))?.status === 'running') io.stderr(`run ${handle.id} was stopped before it finished; continue it with: ${resume}`)
    return { code: result.status === 'succeeded' ? EXIT.ok : EXIT.failed, result }
  } finally {
    view?.stop()
  }
}
