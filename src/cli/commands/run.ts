/**
 * `taskweave run <file>`: runs a workflow file with progress, a summary and an exit code. The run
 * is durable in the CLI's store (`./.taskweave/runs.db` unless `--store` or `TASKWEAVE_STORE`
 * says otherwise): Ctrl-C leaves it resumable with `taskweave resume <runId>`, and so does a crash.
 * @module
 */
import { resolve } from 'node:path'
import { InvalidOptionError } from '../../core/errors.js'
import { createEngine } from '../../engine/engine.js'
import { prepareWorkflow } from '../prepare.js'
import { followRun } from '../follow-run.js'
import { cancelOnSignals } from '../signals.js'
import { openStore, parseStoreSpec } from '../open-store.js'
import { runLabels } from '../run-labels.js'
import { loadCliConfig } from '../config.js'
import { openRemoteExecution } from '../remote-execution.js'
import { cliLogger } from '../cli-logger.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'

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
  /** `--store`: memory, sqlite:PATH or postgres://… (default: `TASKWEAVE_STORE`, else `./.taskweave/runs.db`). */
  readonly store?: string
  /** `--run-id`: the run's id (default: a random UUID). */
  readonly runId?: string
  /** `--config`: the configuration file (rates, autoscale, concurrency, store, budget). */
  readonly config?: string
  /** `--transport`: send the tasks to workers through this broker (redis://… or amqp://…). */
  readonly transport?: string
  /** `--prefix`: names on the broker start with it. */
  readonly prefix?: string
}

/** Runs the command; resolves to the exit code. */
export async function runCommand(args: RunCommandArgs, io: CliIo): Promise<number> {
  const config = await loadCliConfig(args.config)
  const spec = parseStoreSpec(args.store ?? config.store, process.cwd())
  const store = await openStore(spec)
  try {
    const fsRoot = resolve(args.fsRoot ?? process.cwd())
    const remote = await openRemoteExecution(args.transport ?? config.transport, args.prefix ?? config.prefix, (text) => io.stderr(`warning: ${text}`))
    const engine = createEngine({
      ...remote.engineOptions,
      logger: cliLogger(io),
      // The engine-wide limit must not cap a larger --concurrency.
      ...(args.concurrency !== undefined ? { concurrency: Math.max(config.concurrency ?? 64, args.concurrency) } : config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
      builtins: { fs: { root: fsRoot }, http: { allowPrivateNetwork: args.allowPrivateNetwork } },
      store,
      ...(config.rates !== undefined ? { rates: config.rates } : {}),
      ...(config.autoscale !== undefined ? { autoscale: config.autoscale } : {}),
      ...(config.groups !== undefined ? { groups: config.groups } : {}),
    })
    const durable = spec.kind !== 'memory'
    const controller = new AbortController()
    // Ctrl-C suspends a durable run (it stays resumable) and cancels one that is not.
    const onInterrupt = (): void => void engine.close({ reason: 'interrupted' })
    if (durable) controller.signal.addEventListener('abort', onInterrupt, { once: true })
    const stopListening = cancelOnSignals(controller, (text) => io.stderr(text), durable ? 'stopping the run; it stays resumable' : 'cancelling the run')
    try {
      const { workflow } = await prepareWorkflow(engine, args.file, { toolModules: args.tools, fileModules: 'load', allowToolsFrom: args.allowToolsFrom ?? [] })
      // Interrupted while the workflow and its tools were loading: no run was made.
      if (controller.signal.aborted) {
        if (!args.quiet) io.stderr('interrupted before the run started; nothing ran')
        return EXIT.failed
      }
      // A run id the store holds already is refused before anything starts (not a run that
      // starts, is refused by the store and reports its tasks cancelled).
      if (durable && args.runId !== undefined && (await store.load(args.runId)) !== undefined) {
        throw new InvalidOptionError('--run-id', `an id no run in ${store.location} has (run "${args.runId}" is there already: \`taskweave resume ${args.runId}\` goes on with it, \`taskweave show ${args.runId}\` shows it)`, args.runId)
      }
      const handle = engine.start(workflow, {
        inputs: args.inputs,
        ...(durable ? {} : { signal: controller.signal }),
        ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
        ...(args.runId !== undefined ? { runId: args.runId } : {}),
        // A workflow's own budget wins over the configuration's default.
        ...(config.budget !== undefined && workflow.budget === undefined ? { budget: config.budget } : {}),
        labels: runLabels({
          file: args.file,
          tools: args.tools,
          allowToolsFrom: args.allowToolsFrom ?? [],
          fsRoot,
          allowPrivateNetwork: args.allowPrivateNetwork,
          ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
          ...(remote.where !== undefined ? { remote: remote.where } : {}),
        }),
      })
      const resume = `taskweave resume ${handle.id}${remote.where !== undefined ? ` --transport ${remote.where}` : ''}`
      if (durable && !args.quiet) io.stderr(`run ${handle.id} (resumable from ${store.location}: ${resume})`)
      return (await followRun(handle, workflow, engine.clock, args, io, durable ? store : undefined, resume)).code
    } finally {
      stopListening()
      await engine.close()
      await remote.close()
    }
  } finally {
    await store.close()
  }
}
