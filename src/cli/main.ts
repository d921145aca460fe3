/**
 * The `taskweave` command line: `run`, `resume`, `retry`, `runs`, `show`, `resolve`, `cancel`, `prune`, `doctor`, `validate`, `viz`, `plan`,
 * `worker`, `serve`, `queues`, `schema`, `dev fake-llm`. Exit codes: 0 the run succeeded; 1 it failed, was partial or was
 * cancelled; 2 the input was invalid (file, schema, cycle, options); 3 the run store cannot be used;
 * 4 the broker cannot be used; 5 the run is parked, waiting for `taskweave resolve`; 6 the server
 * (`--server`) cannot be used; 128 + a signal's number when a signal stopped the command.
 * @module
 */
import { parseArgs } from 'node:util'
import { formatIssue, TaskweaveError, ValidationError } from '../core/errors.js'
import { closestName } from '../core/closest.js'
import { EXIT, processIo } from './io.js'
import type { CliIo } from './io.js'
import { terminalSafe } from './terminal-text.js'
import { packageVersion } from './version.js'
import { givenFlags, SERVER_OPTIONS } from './server-options.js'
import type { ServerOptionValues, ServerTarget } from './server-target.js'

// Each command's module is imported when that command runs (`import()` below), not here: start-up
// then loads only what the command uses (`validate` never loads the engine, the run store or the
// HTTP client).

const USAGE = `taskweave: run AI-agent and tool workflows in parallel

Usage:
  taskweave run <file> [--input key=value]... [--tools ./tools.ts]... [--concurrency N] [--json] [--quiet] [--verbose]
                       [--root DIR] [--allow-private-network] [--allow-tools-from DIR]... [--store S] [--run-id ID]
                       [--config FILE] [--transport URL] [--prefix P]
  taskweave run <file> --server URL [--input key=value]... [--detach | --cancel-on-exit] [--token-file FILE]
                       [--timeout 10s] [--run-id ID] [--concurrency N] [--json] [--quiet] [--verbose]
                                   starts the run on a taskweave serve and follows it; Ctrl-C detaches
                                   (the run goes on there) unless --cancel-on-exit; --detach prints its id
  taskweave resume <runId> [--store S] [--tools ./tools.ts]... [--json] [--quiet] [--verbose] [--config FILE]
                           [--transport URL] [--prefix P]
  taskweave retry <runId> [--task ID]... [--by NAME] [--store S] [--tools ./tools.ts]... [--json] [--quiet] [--verbose]
                          [--config FILE] [--transport URL] [--prefix P] [--server URL]
  taskweave retry --failed [--workflow ID] [--since 1d] [--limit N] [--by NAME] [--store S] [--tools ./tools.ts]... [--json]
                                   runs a run that ended failed, partial or cancelled again from where it
                                   failed: its failed tasks (or those --task names) with their retry budget
                                   whole again, and what they held back; finished tasks never run again;
                                   --failed does so for each run that ended failed or partial, oldest first
  taskweave runs [--status S] [--workflow ID] [--since 1d] [--limit N] [--json] [--store S] [--config FILE]
                 [--server URL]
  taskweave show <runId> [--json] [--store S] [--config FILE] [--server URL [--follow]]
  taskweave resolve <runId> <taskId> --succeeded [--output JSON|@FILE] | --failed [--reason TEXT] | --retry [--reason TEXT]
                    [--json] [--store S] [--config FILE]
                                   records what happened to a parked task (onUncertain: park), whose
                                   outcome a resume could not know; then taskweave resume goes on
  taskweave cancel <runId> [--reason TEXT] [--json] [--store S] [--config FILE] [--server URL]
                                   ends an unfinished run without running anything (a crashed run
                                   nobody wants resumed, a parked one given up): it is cancelled
  taskweave prune --older-than 7d [--store S] [--config FILE]
  taskweave doctor [--store S] [--json] [--config FILE]
                                   checks the store: SQLite's integrity_check, then every run read back
                                   whole against its checksums; exit 3 naming what is damaged
  taskweave validate <file> [--tools ./tools.ts]... [--json]
  taskweave viz <file> [--format mermaid|dot] [--tools ./tools.ts]...
  taskweave plan "<goal>" [--out flow.yaml] [--tools ./tools.ts]... [--model M] [--base-url URL]
                                   a language model plans a workflow for the goal (OPENAI_BASE_URL,
                                   OPENAI_API_KEY, TASKWEAVE_LLM_MODEL) and writes it as YAML
  taskweave worker [--transport URL] [--tools ./tools.ts]... [--concurrency N] [--queues llm,io] [--id ID]
                   [--port N] [--grace 30s] [--lease 30s] [--claim-after 10m] [--max-deliveries N] [--prefix P] [--root DIR]
                   [--allow-private-network] [--config FILE]
                                   run attempts for any run on a broker (redis://… or amqp://…) until
                                   SIGTERM, which drains it; /healthz, /readyz, /metrics with --port
  taskweave serve [--port 7600] [--host 127.0.0.1] [--tools ./tools.ts]... [--store S] [--token-file FILE]
                  [--no-auth] [--allow-host NAME]... [--cors-origin ORIGIN]... [--concurrency N] [--root DIR]
                  [--allow-private-network] [--resume] [--config FILE] [--transport URL] [--prefix P]
                                   the HTTP API and the live dashboard until SIGTERM; the token comes from
                                   TASKWEAVE_TOKEN, else --token-file (default .taskweave/token, made
                                   with mode 0600 when missing), never from the command line
  taskweave queues [--transport URL] [--prefix P] [--json] [--config FILE]
                                   attempts waiting, running, delayed and dead per work queue; workers
  taskweave schema                 print the JSON Schema of workflow files
  taskweave dev fake-llm [--port N] [--host H] [--rpm N] [--tpm N] [--window 60s] [--latency MS|MIN..MAX]
                         [--error-rate F] [--no-headers]
                                   a local fake OpenAI-compatible API (default port 8787) with quotas,
                                   429s, latency and errors, until Ctrl-C
  taskweave --version              print the version

A workflow file's own tools: modules load only in run, and only from the file's directory (or a
directory given with --allow-tools-from); validate and viz run no code from the file.

Runs are durable: they are kept in --store (memory, sqlite:PATH or postgres://…; default
TASKWEAVE_STORE, else sqlite:.taskweave/runs.db), so a run stopped by Ctrl-C or a crash goes on
with "taskweave resume <runId>" without running its finished tasks again.

With --transport redis://… or amqp://… (or TASKWEAVE_TRANSPORT, or MESSAGE_QUEUE_TYPE=redis|rabbitmq
with REDIS_URL / RABBITMQ_URL) run and resume send their tasks to "taskweave worker" processes
(--prefix P, else TASKWEAVE_QUEUE_PREFIX, keeps deployments sharing a broker apart).

With --server URL (else TASKWEAVE_SERVER) run, runs, show, cancel and retry ask a "taskweave serve" instead
of working here: it runs the workflow with its own tools, store and limits. The token comes from
TASKWEAVE_TOKEN, else --token-file, else .taskweave/token when it exists; never from the command line.
--timeout (default 10s) bounds each request, and how long a broken event stream is tried again.

--config FILE (else TASKWEAVE_CONFIG) reads engine settings from YAML or JSON: concurrency, store,
groups (engine-wide caps), rates (budgets per provider key), autoscale, a default run budget, and the
broker (transport, prefix).

Exit codes: 0 succeeded, 1 failed/partial/cancelled, 2 invalid input, 3 the run store cannot be used,
4 the broker cannot be used, 5 the run is parked (taskweave resolve, then taskweave resume), 6 the
server cannot be used (unreachable, too slow, token refused); 128 + the signal's number when a signal
stopped the command (130 for a second Ctrl-C, or for Ctrl-C while following a run on a server, which goes on;
a local run stopped by one Ctrl-C exits 1: cancelled, or suspended with a store).`

/** `--quiet` and `--verbose`, which say opposite things: both at once is refused rather than one silently winning. */
function outputLevel(quiet: boolean | undefined, verbose: boolean | undefined): { readonly quiet: boolean; readonly verbose: boolean } {
  if (quiet === true && verbose === true) throw usageError('--quiet and --verbose cannot be given together')
  return { quiet: quiet ?? false, verbose: verbose ?? false }
}

/** The usage lines of `command` (its synopsis and what follows it up to the next command), or undefined for a command the usage does not list. */
function commandUsage(command: string): string | undefined {
  const lines = USAGE.split('\n')
  const start = lines.findIndex((line) => line.startsWith(`  taskweave ${command} `) || line === `  taskweave ${command}`)
  if (start < 0) return undefined
  let end = start + 1
  // Its continuation lines, and its other forms (`run <file> --server URL`).
  while (end < lines.length && (((lines[end] as string).startsWith('   ') && !(lines[end] as string).startsWith('  taskweave ')) || (lines[end] as string).startsWith(`  taskweave ${command} `))) end++
  return `Usage:\n${lines.slice(start, end).join('\n')}\n\nExit codes: 0 succeeded, 1 failed/partial/cancelled, 2 invalid input, 3 the run store cannot be used,\n4 the broker cannot be used, 5 the run is parked, 6 the server cannot be used. "taskweave help" says more.`
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv
  // `taskweave run --help`: that command's lines of the usage, not an unknown option.
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const help = commandUsage(command)
    if (help !== undefined) {
      io.stdout(help)
      return EXIT.ok
    }
  }
  try {
    switch (command) {
      case 'run': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            input: { type: 'string', short: 'i', multiple: true },
            tools: { type: 'string', short: 't', multiple: true },
            concurrency: { type: 'string', short: 'c' },
            json: { type: 'boolean' },
            quiet: { type: 'boolean', short: 'q' },
            verbose: { type: 'boolean', short: 'V' },
            root: { type: 'string' },
            'allow-private-network': { type: 'boolean' },
            'allow-tools-from': { type: 'string', multiple: true },
            store: { type: 'string' },
            'run-id': { type: 'string' },
            config: { type: 'string' },
            transport: { type: 'string' },
            prefix: { type: 'string' },
            detach: { type: 'boolean' },
            'cancel-on-exit': { type: 'boolean' },
            ...SERVER_OPTIONS,
          },
        })
        const target = await serverTargetOf(values, {
          localOnly: givenFlags(values, ['tools', 'root', 'allow-private-network', 'allow-tools-from', 'store', 'config', 'transport', 'prefix']),
          serverOnly: givenFlags(values, ['detach', 'cancel-on-exit']),
        }, io)
        if (target !== undefined) {
          if (values.detach === true && values['cancel-on-exit'] === true) throw usageError('--detach and --cancel-on-exit say opposite things: give one')
          const { remoteRunCommand } = await import('./commands/remote-run.js')
          return await remoteRunCommand(
            {
              ...target,
              file: onlyFile(positionals, 'run'),
              inputs: parseInputs(values.input ?? []),
              ...(values.concurrency !== undefined ? { concurrency: parseConcurrency(values.concurrency) } : {}),
              ...(values['run-id'] !== undefined ? { runId: values['run-id'] } : {}),
              json: values.json ?? false,
              ...outputLevel(values.quiet, values.verbose),
              detach: values.detach ?? false,
              cancelOnExit: values['cancel-on-exit'] ?? false,
            },
            io,
          )
        }
        const { runCommand } = await import('./commands/run.js')
        return await runCommand(
          {
            file: onlyFile(positionals, 'run'),
            inputs: parseInputs(values.input ?? []),
            tools: values.tools ?? [],
            ...(values.concurrency !== undefined ? { concurrency: parseConcurrency(values.concurrency) } : {}),
            json: values.json ?? false,
            ...outputLevel(values.quiet, values.verbose),
            ...(values.root !== undefined ? { fsRoot: values.root } : {}),
            allowPrivateNetwork: values['allow-private-network'] ?? false,
            allowToolsFrom: values['allow-tools-from'] ?? [],
            ...(values.store !== undefined ? { store: values.store } : {}),
            ...(values['run-id'] !== undefined ? { runId: values['run-id'] } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
            ...(values.transport !== undefined ? { transport: values.transport } : {}),
            ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
          },
          io,
        )
      }
      case 'resume':
      case 'retry': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            store: { type: 'string' },
            tools: { type: 'string', short: 't', multiple: true },
            json: { type: 'boolean' },
            quiet: { type: 'boolean', short: 'q' },
            verbose: { type: 'boolean', short: 'V' },
            config: { type: 'string' },
            transport: { type: 'string' },
            prefix: { type: 'string' },
            task: { type: 'string', multiple: true },
            by: { type: 'string' },
            failed: { type: 'boolean' },
            workflow: { type: 'string' },
            since: { type: 'string' },
            limit: { type: 'string' },
            ...SERVER_OPTIONS,
          },
        })
        const serverFlags = givenFlags(values, ['server', 'token-file', 'timeout', 'token'])
        const batch = givenFlags(values, ['failed', 'workflow', 'since', 'limit'])
        // What every form that runs here takes: the engine is built in this process.
        const local = {
          tools: values.tools ?? [],
          json: values.json ?? false,
          ...outputLevel(values.quiet, values.verbose),
          ...(values.store !== undefined ? { store: values.store } : {}),
          ...(values.config !== undefined ? { config: values.config } : {}),
          ...(values.transport !== undefined ? { transport: values.transport } : {}),
          ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
        }
        const retry = { ...(values.task !== undefined ? { tasks: values.task } : {}), ...(values.by !== undefined ? { by: values.by } : {}) }
        if (command === 'resume') {
          if (batch.length > 0) throw usageError(`"resume" takes no ${batch[0] as string}: it is an option of "retry --failed"`)
          if (values.task !== undefined || values.by !== undefined) throw usageError(`"resume" takes no ${values.task !== undefined ? '--task' : '--by'}: it is an option of "retry" (a run that finished failed)`)
          if (serverFlags.length > 0) throw usageError(`"resume" runs the run in this process and takes no ${serverFlags[0] as string} (a server resumes its own runs: taskweave serve --resume)`)
        } else if (values.failed === true) {
          if (positionals.length > 0) throw usageError('"retry --failed" retries the runs that match; it takes no run id')
          if (values.task !== undefined) throw usageError('"retry --failed" retries every failed task of each run; --task is for one run')
          if (serverFlags.length > 0) throw usageError(`"retry --failed" works on this store; it takes no ${serverFlags[0] as string}`)
          const { retryManyCommand } = await import('./commands/retry-many.js')
          return await retryManyCommand(
            {
              ...local,
              ...(values.workflow !== undefined ? { workflow: values.workflow } : {}),
              ...(values.since !== undefined ? { since: values.since } : {}),
              ...(values.limit !== undefined ? { limit: parseCount('--limit', values.limit) } : {}),
              ...(values.by !== undefined ? { by: values.by } : {}),
            },
            io,
          )
        } else {
          if (batch.length > 0) throw usageError(`${batch[0] as string} selects runs for "retry --failed"`)
          const target = await serverTargetOf(values, { localOnly: givenFlags(values, ['store', 'config', 'tools', 'transport', 'prefix']), serverOnly: [] }, io)
          if (target !== undefined) {
            const { remoteRetryCommand } = await import('./commands/remote-read.js')
            return await remoteRetryCommand({ ...target, runId: onlyRunId(positionals, 'retry'), json: local.json, quiet: local.quiet, verbose: local.verbose, ...retry }, io)
          }
        }
        const { resumeCommand } = await import('./commands/resume.js')
        return await resumeCommand({ ...local, runId: onlyRunId(positionals, command), ...(command === 'retry' ? { retry } : {}) }, io)
      }
      case 'runs': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { store: { type: 'string' }, config: { type: 'string' }, status: { type: 'string' }, workflow: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, ...SERVER_OPTIONS },
        })
        if (positionals.length > 0) throw usageError('"runs" takes no file')
        const target = await serverTargetOf(values, { localOnly: givenFlags(values, ['store', 'config']), serverOnly: [] }, io)
        if (target !== undefined) {
          const { remoteRunsCommand } = await import('./commands/remote-read.js')
          return await remoteRunsCommand(
            {
              ...target,
              json: values.json ?? false,
              ...(values.status !== undefined ? { status: values.status } : {}),
              ...(values.workflow !== undefined ? { workflow: values.workflow } : {}),
              ...(values.since !== undefined ? { since: values.since } : {}),
              ...(values.limit !== undefined ? { limit: parseCount('--limit', values.limit) } : {}),
            },
            io,
          )
        }
        const { runsCommand } = await import('./commands/runs.js')
        return await runsCommand(
          {
            json: values.json ?? false,
            ...(values.store !== undefined ? { store: values.store } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
            ...(values.status !== undefined ? { status: values.status } : {}),
            ...(values.workflow !== undefined ? { workflow: values.workflow } : {}),
            ...(values.since !== undefined ? { since: values.since } : {}),
            ...(values.limit !== undefined ? { limit: parseCount('--limit', values.limit) } : {}),
          },
          io,
        )
      }
      case 'show': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { store: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' }, quiet: { type: 'boolean', short: 'q' }, verbose: { type: 'boolean', short: 'V' }, ...SERVER_OPTIONS },
        })
        const target = await serverTargetOf(values, { localOnly: givenFlags(values, ['store', 'config']), serverOnly: givenFlags(values, ['follow', 'quiet', 'verbose']) }, io)
        if (target !== undefined) {
          const { remoteShowCommand } = await import('./commands/remote-read.js')
          return await remoteShowCommand({ ...target, runId: onlyRunId(positionals, 'show'), json: values.json ?? false, follow: values.follow ?? false, ...outputLevel(values.quiet, values.verbose) }, io)
        }
        const { showCommand } = await import('./commands/show.js')
        return await showCommand({ runId: onlyRunId(positionals, 'show'), json: values.json ?? false, ...(values.store !== undefined ? { store: values.store } : {}), ...(values.config !== undefined ? { config: values.config } : {}) }, io)
      }
      case 'resolve': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { succeeded: { type: 'boolean' }, failed: { type: 'boolean' }, retry: { type: 'boolean' }, output: { type: 'string' }, reason: { type: 'string' }, store: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } },
        })
        if (positionals.length !== 2) throw usageError('"resolve" needs a run id and a task id: taskweave resolve <runId> <taskId> --succeeded | --failed | --retry')
        const outcomes = (['succeeded', 'failed', 'retry'] as const).filter((outcome) => values[outcome] === true)
        if (outcomes.length !== 1) throw usageError(`"resolve" needs exactly one of --succeeded, --failed, --retry${outcomes.length > 1 ? `; received ${outcomes.map((outcome) => `--${outcome}`).join(' and ')}` : ''}`)
        const { resolveCommand } = await import('./commands/resolve.js')
        return await resolveCommand(
          {
            runId: positionals[0] as string,
            taskId: positionals[1] as string,
            outcome: outcomes[0] as 'succeeded' | 'failed' | 'retry',
            json: values.json ?? false,
            ...(values.output !== undefined ? { output: values.output } : {}),
            ...(values.reason !== undefined ? { reason: values.reason } : {}),
            ...(values.store !== undefined ? { store: values.store } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
          },
          io,
        )
      }
      case 'cancel': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { reason: { type: 'string' }, store: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' }, ...SERVER_OPTIONS } })
        const target = await serverTargetOf(values, { localOnly: givenFlags(values, ['store', 'config']), serverOnly: [] }, io)
        if (target !== undefined) {
          const { remoteCancelCommand } = await import('./commands/remote-read.js')
          return await remoteCancelCommand({ ...target, runId: onlyRunId(positionals, 'cancel'), json: values.json ?? false, ...(values.reason !== undefined ? { reason: values.reason } : {}) }, io)
        }
        const { cancelCommand } = await import('./commands/cancel.js')
        return await cancelCommand(
          {
            runId: onlyRunId(positionals, 'cancel'),
            json: values.json ?? false,
            ...(values.reason !== undefined ? { reason: values.reason } : {}),
            ...(values.store !== undefined ? { store: values.store } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
          },
          io,
        )
      }
      case 'prune': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { store: { type: 'string' }, config: { type: 'string' }, 'older-than': { type: 'string' } } })
        if (positionals.length > 0) throw usageError('"prune" takes no file')
        if (values['older-than'] === undefined) throw usageError('"prune" needs --older-than (e.g. 7d)')
        const { pruneCommand } = await import('./commands/prune.js')
        return await pruneCommand({ olderThan: values['older-than'], ...(values.store !== undefined ? { store: values.store } : {}), ...(values.config !== undefined ? { config: values.config } : {}) }, io)
      }
      case 'doctor': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { store: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } } })
        if (positionals.length > 0) throw usageError('"doctor" takes no argument: it checks the store (--store S)')
        const { doctorCommand } = await import('./commands/doctor.js')
        return await doctorCommand({ json: values.json ?? false, ...(values.store !== undefined ? { store: values.store } : {}), ...(values.config !== undefined ? { config: values.config } : {}) }, io)
      }
      case 'validate': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { tools: { type: 'string', short: 't', multiple: true }, json: { type: 'boolean' } } })
        const { validateCommand } = await import('./commands/validate.js')
        return await validateCommand({ file: onlyFile(positionals, 'validate'), tools: values.tools ?? [], json: values.json ?? false }, io)
      }
      case 'viz': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { tools: { type: 'string', short: 't', multiple: true }, format: { type: 'string', short: 'f', default: 'mermaid' } } })
        const format = values.format
        if (format !== 'mermaid' && format !== 'dot') throw usageError(`--format must be mermaid or dot; received "${format}"`)
        const { vizCommand } = await import('./commands/viz.js')
        return await vizCommand({ file: onlyFile(positionals, 'viz'), tools: values.tools ?? [], format }, io)
      }
      case 'plan': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { out: { type: 'string', short: 'o' }, tools: { type: 'string', short: 't', multiple: true }, model: { type: 'string', short: 'm' }, 'base-url': { type: 'string' } },
        })
        // The goal's words, quoted or not: `taskweave plan summarise the README` reads as one goal.
        if (positionals.length === 0) throw usageError('"plan" needs a goal: taskweave plan "<what the workflow should do>"')
        const { planCommand } = await import('./commands/plan.js')
        return await planCommand(
          {
            goal: positionals.join(' '),
            tools: values.tools ?? [],
            ...(values.out !== undefined ? { out: values.out } : {}),
            ...(values.model !== undefined ? { model: values.model } : {}),
            ...(values['base-url'] !== undefined ? { baseURL: values['base-url'] } : {}),
          },
          io,
        )
      }
      case 'dev': {
        const [tool, ...flags] = rest
        if (tool !== 'fake-llm') throw usageError(tool === undefined ? '"dev" needs a command: fake-llm' : `unknown dev command "${tool}"`)
        const { values, positionals } = parseArgs({
          args: flags,
          allowPositionals: true,
          options: {
            port: { type: 'string', short: 'p' },
            host: { type: 'string' },
            rpm: { type: 'string' },
            tpm: { type: 'string' },
            window: { type: 'string' },
            latency: { type: 'string' },
            'error-rate': { type: 'string' },
            'no-headers': { type: 'boolean' },
          },
        })
        if (positionals.length > 0) throw usageError('"dev fake-llm" takes no file')
        const { devFakeLlmCommand } = await import('./commands/dev-fake-llm.js')
        return await devFakeLlmCommand(
          {
            headers: values['no-headers'] !== true,
            ...(values.port !== undefined ? { port: values.port } : {}),
            ...(values.host !== undefined ? { host: values.host } : {}),
            ...(values.rpm !== undefined ? { rpm: values.rpm } : {}),
            ...(values.tpm !== undefined ? { tpm: values.tpm } : {}),
            ...(values.window !== undefined ? { window: values.window } : {}),
            ...(values.latency !== undefined ? { latency: values.latency } : {}),
            ...(values['error-rate'] !== undefined ? { errorRate: values['error-rate'] } : {}),
          },
          io,
        )
      }
      case 'serve': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            port: { type: 'string', short: 'p' },
            host: { type: 'string' },
            tools: { type: 'string', short: 't', multiple: true },
            store: { type: 'string' },
            token: { type: 'string' },
            'token-file': { type: 'string' },
            'no-auth': { type: 'boolean' },
            'allow-host': { type: 'string', multiple: true },
            'cors-origin': { type: 'string', multiple: true },
            concurrency: { type: 'string', short: 'c' },
            root: { type: 'string' },
            'allow-private-network': { type: 'boolean' },
            resume: { type: 'boolean' },
            config: { type: 'string' },
            transport: { type: 'string' },
            prefix: { type: 'string' },
          },
        })
        if (positionals.length > 0) throw usageError('"serve" takes no file: runs are started through its API or dashboard')
        if (values.token !== undefined) throw usageError('--token is refused: a command line can be read by every user of the machine (ps). Set TASKWEAVE_TOKEN, or put the token in a file readable only by you and pass --token-file FILE')
        if (values['no-auth'] === true && values['token-file'] !== undefined) throw usageError('--no-auth and --token-file say opposite things: give one')
        const { serveCommand } = await import('./commands/serve.js')
        return await serveCommand(
          {
            tools: values.tools ?? [],
            noAuth: values['no-auth'] ?? false,
            allowHosts: values['allow-host'] ?? [],
            corsOrigins: values['cors-origin'] ?? [],
            allowPrivateNetwork: values['allow-private-network'] ?? false,
            resume: values.resume ?? false,
            ...(values.port !== undefined ? { port: parsePort(values.port) } : {}),
            ...(values.host !== undefined ? { host: values.host } : {}),
            ...(values.store !== undefined ? { store: values.store } : {}),
            ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
            ...(values.concurrency !== undefined ? { concurrency: parseConcurrency(values.concurrency) } : {}),
            ...(values.root !== undefined ? { fsRoot: values.root } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
            ...(values.transport !== undefined ? { transport: values.transport } : {}),
            ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
          },
          io,
        )
      }
      case 'worker': {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: {
            transport: { type: 'string' },
            prefix: { type: 'string' },
            lease: { type: 'string' },
            'claim-after': { type: 'string' },
            'max-deliveries': { type: 'string' },
            tools: { type: 'string', short: 't', multiple: true },
            concurrency: { type: 'string', short: 'c' },
            queues: { type: 'string', short: 'q', multiple: true },
            id: { type: 'string' },
            port: { type: 'string', short: 'p' },
            host: { type: 'string' },
            grace: { type: 'string' },
            root: { type: 'string' },
            'allow-private-network': { type: 'boolean' },
            config: { type: 'string' },
          },
        })
        if (positionals.length > 0) throw usageError('"worker" takes no file: its tools come from --tools modules')
        const { workerCommand } = await import('./commands/worker.js')
        const { toMs: parseMs } = await import('../core/duration.js')
        // A bare number is milliseconds: `--grace 5` is 5 ms, which a user rarely means.
        const toMs = (flag: string, value: string): number => {
          const ms = parseMs(flag, value)
          if (/^\s*\d+(\.\d+)?\s*$/.test(value) && ms < 1000) io.stderr(`warning: ${flag} ${value} is ${ms} ms (a number without a unit is milliseconds; write ${value}s for seconds)`)
          return ms
        }
        return await workerCommand(
          {
            tools: values.tools ?? [],
            queues: (values.queues ?? []).flatMap((q) => q.split(',')).map((q) => q.trim()).filter((q) => q !== ''),
            allowPrivateNetwork: values['allow-private-network'] ?? false,
            ...(values.transport !== undefined ? { transport: values.transport } : {}),
            ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
            ...(values.lease !== undefined ? { leaseMs: toMs('--lease', values.lease) } : {}),
            ...(values['claim-after'] !== undefined ? { claimAfterMs: toMs('--claim-after', values['claim-after']) } : {}),
            ...(values['max-deliveries'] !== undefined ? { maxDeliveries: parseCount('--max-deliveries', values['max-deliveries']) } : {}),
            ...(values.concurrency !== undefined ? { concurrency: parseConcurrency(values.concurrency) } : {}),
            ...(values.id !== undefined ? { id: values.id } : {}),
            ...(values.port !== undefined ? { port: parsePort(values.port) } : {}),
            ...(values.host !== undefined ? { host: values.host } : {}),
            ...(values.grace !== undefined ? { graceMs: toMs('--grace', values.grace) } : {}),
            ...(values.root !== undefined ? { fsRoot: values.root } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
          },
          io,
        )
      }
      case 'queues': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { transport: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' } } })
        if (positionals.length > 0) throw usageError('"queues" takes no file')
        const { queuesCommand } = await import('./commands/queues.js')
        return await queuesCommand(
          {
            json: values.json ?? false,
            ...(values.transport !== undefined ? { transport: values.transport } : {}),
            ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
            ...(values.config !== undefined ? { config: values.config } : {}),
          },
          io,
        )
      }
      case 'schema': {
        const { workflowJsonSchema } = await import('../workflow/schema.js')
        io.stdout(JSON.stringify(workflowJsonSchema(), null, 2))
        return EXIT.ok
      }
      case '--version':
      case '-v':
      case 'version':
        io.stdout(packageVersion())
        return EXIT.ok
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE)
        return command === undefined ? EXIT.invalid : EXIT.ok
      default:
        throw usageError(`unknown command "${command}"${unknownCommandHint(command)}`)
    }
  } catch (err) {
    return reportError(err, io, command)
  }
}

/** The commands, for the hint after an unknown one. */
const COMMANDS = ['run', 'resume', 'retry', 'runs', 'show', 'resolve', 'cancel', 'prune', 'doctor', 'validate', 'viz', 'plan', 'worker', 'queues', 'serve', 'schema', 'dev', 'help', 'version']

/**
 * What follows a usage error: the lines of the command's own usage (not the whole of it, which
 * would scroll the error out of sight), or the list of commands.
 */
function usageHint(command: string | undefined): string {
  const usage = command !== undefined ? commandUsage(command) : undefined
  return usage ?? `Commands: ${COMMANDS.join(', ')}. "taskweave help" says more.`
}

/** An argument parser's error in the CLI's words: an unknown option with the closest one the command has. */
function parseArgsMessage(message: string, command: string | undefined): string {
  const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1]
  if (unknown === undefined) return message
  const flags = new Set((command !== undefined ? commandUsage(command) : undefined)?.match(/--[a-z][a-z-]*/g) ?? [])
  const near = closestName(unknown, flags, 3)
  return `unknown option ${unknown}${command !== undefined ? ` for "${command}"` : ''}${near !== undefined ? ` (did you mean ${near}?)` : ''}`
}

// Error text may quote a file or a module's own message: shown with its control characters escaped.
function reportError(err: unknown, io: CliIo, command?: string): number {
  const safe = (text: string): string => terminalSafe(text, { multiline: true })
  if (err instanceof ValidationError && err.issues.length === 1 && err.issues[0] !== undefined) {
    io.stderr(`invalid ${err.subject}: ${terminalSafe(formatIssue(err.issues[0]))}`)
    return EXIT.invalid
  }
  if (err instanceof ValidationError) {
    io.stderr(`invalid ${err.subject} (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):`)
    for (const issue of err.issues) io.stderr(`  ${terminalSafe(formatIssue(issue))}`)
    return EXIT.invalid
  }
  if (TaskweaveError.is(err) && err.details?.['usage'] === true) {
    io.stderr(`error: ${safe(err.message)}\n\n${usageHint(command)}`)
    return EXIT.invalid
  }
  if (TaskweaveError.is(err) && (err.code === 'TW_VALIDATION' || err.code === 'TW_INVALID_OPTION' || err.code === 'TW_OUTPUT_TOO_LARGE' || err.code === 'TW_OUTPUT_NOT_SERIALIZABLE')) {
    io.stderr(`error: ${safe(err.message)}`)
    return EXIT.invalid
  }
  if (TaskweaveError.is(err) && err.code.startsWith('TW_STORE')) {
    // The message names the file or URL and what to do; a stack would only hide it.
    io.stderr(`error: ${safe(err.message)}`)
    return EXIT.store
  }
  if (TaskweaveError.is(err) && err.code === 'TW_PARKED') {
    io.stderr(`error: ${safe(err.message)}`)
    return EXIT.parked
  }
  if (TaskweaveError.is(err) && err.code === 'TW_INVALID_STATE') {
    // A run that is finished, owned elsewhere or not parked: the message says which and what to do.
    io.stderr(`error: ${safe(err.message)}`)
    return EXIT.failed
  }
  if (TaskweaveError.is(err) && err.code === 'TW_API') {
    // The server said the request was wrong (no such run, an id taken, a field refused): the
    // input is at fault. Otherwise the server could not be used (unreachable, silent, a bad token).
    const details = err.details as { readonly status?: unknown; readonly notApi?: unknown; readonly serverFault?: unknown } | undefined
    const status = details?.status
    io.stderr(`error: ${safe(err.message)}`)
    const wrongRequest = details?.notApi !== true && details?.serverFault !== true && (status === 400 || status === 404 || status === 409 || status === 413 || status === 415)
    return wrongRequest ? EXIT.invalid : EXIT.server
  }
  if (TaskweaveError.is(err) && (err.code === 'TW_TRANSPORT' || err.code === 'TW_QUEUE')) {
    io.stderr(`error: ${safe(err.message)}`)
    return EXIT.broker
  }
  if (err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
    io.stderr(`error: ${safe(parseArgsMessage(err.message, command))}\n\n${usageHint(command)}`)
    return EXIT.invalid
  }
  io.stderr(`error: ${safe(err instanceof Error ? (err.stack ?? err.message) : String(err))}`)
  return EXIT.failed
}

/** The server a command asks (`--server`), or undefined to work here; see server-target.ts. */
async function serverTargetOf(values: ServerOptionValues, given: { readonly localOnly: readonly string[]; readonly serverOnly: readonly string[] }, io: CliIo): Promise<ServerTarget | undefined> {
  const { serverTarget } = await import('./server-target.js')
  return await serverTarget(values, given, (text) => io.stderr(text))
}

/** ` (did you mean "run"?)` for a mistyped command, or nothing. */
function unknownCommandHint(command: string): string {
  const near = closestName(command, COMMANDS, 2)
  return near !== undefined ? ` (did you mean "${near}"?)` : ''
}

/** A command line the CLI cannot take: reported with the command's usage (see {@link usageHint}). */
function usageError(message: string): TaskweaveError {
  return new TaskweaveError('TW_INVALID_OPTION', message, { retryable: false, details: { usage: true } })
}

function onlyRunId(positionals: readonly string[], command: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw usageError(`"${command}" needs exactly one run id`)
  return positionals[0]
}

function onlyFile(positionals: readonly string[], command: string): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw usageError(`"${command}" needs exactly one workflow file`)
  return positionals[0]
}

function parseInputs(pairs: readonly string[]): Record<string, string> {
  // No prototype: `__proto__=x` is then an input like any other (and refused as undeclared), not
  // a prototype change that drops it in silence.
  const inputs = Object.create(null) as Record<string, string>
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw usageError(`--input must look like key=value; received "${pair}"`)
    const name = pair.slice(0, eq)
    if (Object.hasOwn(inputs, name)) throw usageError(`--input ${name} is given twice`)
    inputs[name] = pair.slice(eq + 1)
  }
  return inputs
}

function parsePort(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`--port must be a port number from 0 to 65535; received "${text}"`)
  return n
}

function parseCount(flag: string, text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw usageError(`${flag} must be a whole number ≥ 1; received "${text}"`)
  return n
}

function parseConcurrency(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1) throw usageError(`--concurrency must be a whole number ≥ 1; received "${text}"`)
  return n
}
