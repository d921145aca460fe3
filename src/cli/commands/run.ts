/**
 * `taskweave run <file>`: runs a workflow file with progress (a live table on a terminal, a compact
 * log elsewhere, every event with `--verbose`), a summary, and an exit code.
 * @module
 */
import { createEngine } from '../../engine/engine.js'
import type { RunResult } from '../../engine/report.js'
import { prepareWorkflow } from '../prepare.js'
import { createLineView, createLiveView } from '../progress.js'
import type { ProgressView } from '../progress.js'
import { createCompactView } from '../compact-view.js'
import { formatSummary } from '../summary.js'
import { EXIT, type CliIo } from '../io.js'
import { cancelOnSignals } from '../signals.js'

/** Parsed arguments of `run`. */
export interface RunCommandArgs {
  readonly file: string
  readonly inputs: Readonly<Record<string, string>>
  readonly tools: readonly string[]
  readonly concurrency?: number
  readonly json: boolean
  readonly quiet: boolean
  /** Not on a terminal: print every event instead of the compact log. */
  readonly verbose?: boolean
  readonly fsRoot?: string
  readonly allowPrivateNetwork: boolean
  /** Directories besides the workflow's own from which its `tools:` modules may load. */
  readonly allowToolsFrom?: readonly string[]
}

/** Runs the command; resolves to the exit code. */
export async function runCommand(args: RunCommandArgs, io: CliIo): Promise<number> {
  await using engine = createEngine({
    // The engine-wide limit must not cap a larger --concurrency.
    ...(args.concurrency !== undefined ? { concurrency: Math.max(64, args.concurrency) } : {}),
    builtins: { fs: { root: args.fsRoot ?? process.cwd() }, http: { allowPrivateNetwork: args.allowPrivateNetwork } },
  })
  const { workflow } = await prepareWorkflow(engine, args.file, { toolModules: args.tools, fileModules: 'load', allowToolsFrom: args.allowToolsFrom ?? [] })
  const controller = new AbortController()
  const stopListening = cancelOnSignals(controller, (text) => io.stderr(text))
  let view: ProgressView | undefined
  try {
    const handle = engine.start(workflow, {
      inputs: args.inputs,
      signal: controller.signal,
      ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
    })
    if (!args.quiet) {
      const write = args.json ? (line: string) => io.stderr(line) : (line: string) => io.stdout(line)
      view =
        io.isTTY && !args.json
          ? createLiveView(io.stdoutStream, workflow.ids, () => engine.clock.now())
          : args.verbose === true
            ? createLineView(write)
            : createCompactView(write, engine.clock)
      const sink = view
      handle.onAny((event) => sink.handle(event))
    }
    const result: RunResult = await handle.result
    view?.stop()
    if (args.json) io.stdout(JSON.stringify(result, null, 2))
    else {
      const { childStart } = workflow.graph
      const leaves = workflow.ids.filter((_id, i) => childStart[i] === childStart[i + 1])
      io.stdout(formatSummary(result, { outputs: leaves }))
    }
    return result.status === 'succeeded' ? EXIT.ok : EXIT.failed
  } finally {
    view?.stop()
    stopListening()
  }
}
