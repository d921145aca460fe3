/**
 * `taskweave resume <runId>`: continues a durable run that did not finish (a crash, `kill -9`,
 * Ctrl-C). `taskweave retry <runId>` is the same for a run that finished failed, partial or
 * cancelled: the store reopens it (recording who and when) and its failed tasks run again. The engine is rebuilt as `run` built it (tool modules, built-in tools' settings, from
 * the run's labels), the journal is replayed (finished tasks never run again) and the rest runs.
 * The run uses the definition pinned when it started; the command says so when the file changed.
 * @module
 */
import { dirname } from 'node:path'
import { TaskweaveError } from '../../core/errors.js'
import { createEngine } from '../../engine/engine.js'
import { compileWorkflow } from '../../workflow/compile.js'
import { readWorkflowFile } from '../../workflow/load.js'
import { followRun } from '../follow-run.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { loadToolModule } from '../load-tools.js'
import { openStoreOfRun, parseStoreSpec } from '../open-store.js'
import { readRunLabels } from '../run-labels.js'
import { cancelOnSignals } from '../signals.js'
import { loadCliConfig } from '../config.js'
import { openRemoteExecution } from '../remote-execution.js'
import { cliLogger } from '../cli-logger.js'
import { operatorName } from '../operator.js'
import { confineWorkflowToolModule } from '../tool-module-path.js'

/** Parsed arguments of `resume`. */
export interface ResumeCommandArgs {
  readonly runId: string
  readonly store?: string
  /** More tool modules (for a run started from the library, whose modules the store does not know). */
  readonly tools: readonly string[]
  readonly json: boolean
  readonly quiet: boolean
  readonly verbose?: boolean
  /** `--config`: the configuration file (rates, autoscale, store). */
  readonly config?: string
  /** `--transport`: send the remaining tasks to workers through this broker (redis://… or amqp://…). */
  readonly transport?: string
  /** `--prefix`: names on the broker start with it. */
  readonly prefix?: string
  /** Set by `taskweave retry`: the run ended failed, partial or cancelled and runs again from where it failed. */
  readonly retry?: { readonly tasks?: readonly string[]; readonly by?: string }
}

/** Runs the command; resolves to the exit code. */
export async function resumeCommand(args: ResumeCommandArgs, io: CliIo): Promise<number> {
  const config = await loadCliConfig(args.config)
  const store = await openStoreOfRun(parseStoreSpec(args.store ?? config.store, process.cwd()), args.runId)
  try {
    const stored = await store.load(args.runId)
    if (stored === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `no run "${args.runId}" in ${store.location} (taskweave runs lists them)`, { retryable: false })
    if (args.retry === undefined && stored.status !== 'running') {
      io.stderr(`run ${args.runId} has already finished: ${stored.status} (taskweave show ${args.runId}${stored.status === 'succeeded' ? '' : `; taskweave retry ${args.runId} runs its failed tasks again`})`)
      return stored.status === 'succeeded' ? EXIT.ok : EXIT.failed
    }
    const settings = readRunLabels(stored.labels)
    const remote = await openRemoteExecution(args.transport ?? config.transport, args.prefix ?? config.prefix, (text) => io.stderr(`warning: ${text}`))
    // Started on workers and resumed without a broker: its tasks now run in this process.
    if (settings?.remote !== undefined && remote.where === undefined) {
      io.stderr(`warning: run ${args.runId} sent its tasks to workers (--transport ${settings.remote}); without --transport this resume runs the rest in this process`)
    }
    const engine = createEngine({
      store,
      ...remote.engineOptions,
      logger: cliLogger(io),
      ...(settings?.concurrency !== undefined ? { concurrency: Math.max(64, settings.concurrency) } : {}),
      builtins: settings === undefined ? {} : { fs: { root: settings.fsRoot }, http: { allowPrivateNetwork: settings.allowPrivateNetwork } },
      ...(config.rates !== undefined ? { rates: config.rates } : {}),
      ...(config.autoscale !== undefined ? { autoscale: config.autoscale } : {}),
      ...(config.groups !== undefined ? { groups: config.groups } : {}),
    })
    const controller = new AbortController()
    controller.signal.addEventListener('abort', () => void engine.close({ reason: 'interrupted' }), { once: true })
    const stopListening = cancelOnSignals(controller, (text) => io.stderr(text), 'stopping the run; it stays resumable')
    try {
      for (const module of [...(settings?.tools ?? []), ...args.tools]) await loadToolModule(module, process.cwd(), engine.registry)
      const definition = JSON.parse(stored.definition) as { tools?: unknown }
      if (settings !== undefined && Array.isArray(definition.tools)) {
        for (const module of definition.tools) {
          if (typeof module !== 'string') continue
          await loadToolModule(confineWorkflowToolModule(module, settings.file, settings.allowToolsFrom), '/', engine.registry, { shownAs: module })
        }
      }
      if (settings !== undefined) await sayWhenTheFileChanged(settings.file, stored.workflowHash, engine.registry, io)
      const retry = args.retry
      const handle = retry === undefined ? await engine.resume(args.runId) : await engine.retry(args.runId, { ...retry, by: retry.by ?? operatorName() })
      if (!args.quiet) io.stderr(`${retry === undefined ? 'resuming' : 'retrying'} run ${args.runId} of ${stored.workflowId} (${dirname(settings?.file ?? '.') === '.' ? 'library run' : settings?.file})`)
      const workflow = engine.compile(JSON.parse(stored.definition) as Parameters<typeof engine.compile>[0])
      return (await followRun(handle, workflow, engine.clock, args, io, store, `taskweave resume ${args.runId}${remote.where !== undefined ? ` --transport ${remote.where}` : ''}`)).code
    } finally {
      stopListening()
      await engine.close()
      await remote.close()
    }
  } finally {
    await store.close()
  }
}

/** Tells the user when the workflow file no longer holds the definition the run pinned. */
async function sayWhenTheFileChanged(file: string, pinnedHash: string, registry: Parameters<typeof compileWorkflow>[1]['registry'], io: CliIo): Promise<void> {
  let now: string | undefined
  try {
    const parsed = await readWorkflowFile(file)
    now = compileWorkflow(parsed.value, { registry, file }).hash
  } catch {
    now = undefined
  }
  if (now === pinnedHash) return
  io.stderr(`note: ${file} ${now === undefined ? 'cannot be read or compiled now' : `has changed (sha256 ${now.slice(0, 12)}… now)`} since this run started; the run goes on with the definition pinned then (sha256 ${pinnedHash.slice(0, 12)}…), and new runs use the file as it is`)
}

