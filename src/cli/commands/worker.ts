/**
 * `taskweave worker`: a worker process. It takes attempts from a broker (`--transport`), runs
 * them with the built-in tools and the `--tools` modules, and reports each outcome to the process
 * that owns the run (`taskweave run --transport …`, or an engine with a remote runner). SIGTERM or
 * Ctrl-C drains it: no new attempts, running ones get the grace period, then what is left goes
 * back to the broker for another worker; a second signal stops it at once.
 * @module
 */
import { resolve } from 'node:path'
import { InvalidOptionError } from '../../core/errors.js'
import { createConsoleLogger } from '../../core/logger.js'
import { ToolRegistry } from '../../core/registry.js'
import { startWorker } from '../../distributed/worker.js'
import { workerSettingsFromEnv } from '../../distributed/env.js'
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { loadToolModule } from '../load-tools.js'
import { openTransport, requiredBroker } from '../open-transport.js'
import { cancelOnSignals } from '../signals.js'
import { redactUrl } from '../transport-spec.js'
import { startWorkerServer } from '../worker-server.js'

/** Parsed arguments of `worker`. */
export interface WorkerCommandArgs {
  /** `--transport`: redis://… or amqp://… (default: `TASKWEAVE_TRANSPORT`, else `MESSAGE_QUEUE_TYPE` with `REDIS_URL` / `RABBITMQ_URL`). */
  readonly transport?: string
  /** `--prefix`: names on the broker start with it (default: `TASKWEAVE_QUEUE_PREFIX`, else `taskweave`). */
  readonly prefix?: string
  /** `--lease`: how long the broker lets this worker hold an attempt unheard before another may take it (Redis), in ms. */
  readonly leaseMs?: number
  /** `--claim-after`: how long an attempt runs before this worker claims it (RabbitMQ: acknowledged while it runs, so `consumer_timeout` cannot cut it), in ms; 0 never. */
  readonly claimAfterMs?: number
  /** `--max-deliveries`: deliveries of one attempt before it is dead-lettered and its owner told. */
  readonly maxDeliveries?: number
  readonly tools: readonly string[]
  /** `--concurrency` (default: `TASK_MANAGER_WORKERS`, else 16). */
  readonly concurrency?: number
  /** `--queues llm,io` (default: `default`). */
  readonly queues: readonly string[]
  /** `--id`: the worker's id (default: host:pid:random). */
  readonly id?: string
  /** `--port`: serve /healthz, /readyz and /metrics on it (0: any free port). */
  readonly port?: number
  readonly host?: string
  /** `--grace`: how long running attempts may finish after SIGTERM, in ms (default 30 s). */
  readonly graceMs?: number
  readonly fsRoot?: string
  readonly allowPrivateNetwork: boolean
  /** `--config`: the configuration file (its `transport` and `prefix`). */
  readonly config?: string
}

/** Runs the worker until a signal drains it; resolves to the exit code. */
export async function workerCommand(args: WorkerCommandArgs, io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const spec = await requiredBroker(args, env, 'a worker')
  const concurrency = args.concurrency ?? workerSettingsFromEnv(env).concurrency ?? 16
  const registry = new ToolRegistry()
  for (const module of args.tools) await loadToolModule(module, process.cwd(), registry)
  if (spec.type === 'redis' && args.leaseMs !== undefined && args.leaseMs < 200) throw new InvalidOptionError('--lease', 'a duration of at least 200ms (e.g. 30s)', args.leaseMs)
  // RabbitMQ's consumer_timeout is 30 min by default: a claim later than that comes too late.
  if (spec.type === 'rabbitmq' && args.claimAfterMs !== undefined && args.claimAfterMs >= DEFAULT_CONSUMER_TIMEOUT_MS) {
    io.stderr(`warning: --claim-after ${claimText(args.claimAfterMs)} is not under RabbitMQ's default consumer_timeout (30 min): an attempt that runs that long would have its channel closed and be delivered again before it is claimed, unless the broker's consumer_timeout is longer`)
  }
  const transport = await openTransport(spec, {
    ...(args.leaseMs !== undefined ? { leaseMs: args.leaseMs } : {}),
    ...(args.claimAfterMs !== undefined ? { claimAfterMs: args.claimAfterMs } : {}),
    ...(args.maxDeliveries !== undefined ? { maxDeliveries: args.maxDeliveries } : {}),
  })
  const controller = new AbortController()
  const stopListening = cancelOnSignals(controller, (text) => io.stderr(text), 'draining: running attempts may finish, the rest go back to the broker')
  try {
    const worker = await startWorker({
      transport,
      tools: registry.list(),
      builtins: { fs: { root: resolve(args.fsRoot ?? process.cwd()) }, http: { allowPrivateNetwork: args.allowPrivateNetwork } },
      concurrency,
      queues: args.queues,
      ...(args.id !== undefined ? { worker: args.id } : {}),
      logger: createConsoleLogger('warn'),
    })
    const server = args.port !== undefined ? await startWorkerServer(worker, transport, args.port, args.host) : undefined
    const claims = spec.type !== 'rabbitmq' ? '' : args.claimAfterMs === 0 ? ', no claims' : `, claims attempts after ${claimText(args.claimAfterMs ?? DEFAULT_CLAIM_AFTER_MS)}`
    io.stderr(
      `worker ${worker.id} on ${redactUrl(spec.url)}: queues ${worker.stats().queues.join(', ')}, concurrency ${concurrency}${claims}` +
        (server !== undefined ? `, /healthz /readyz /metrics on port ${server.port}` : ''),
    )
    // A signal may have come while the worker was starting: it drains now rather than never.
    if (!controller.signal.aborted) await new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }))
    await worker.close({ graceMs: args.graceMs ?? 30_000 })
    await server?.close()
    const s = worker.stats()
    io.stderr(`worker ${worker.id} stopped: ${s.completed} succeeded, ${s.failed} failed, ${s.returned} returned to the broker`)
    return EXIT.ok
  } finally {
    stopListening()
    await transport.close()
  }
}

/** RabbitMQ's default `consumer_timeout`. */
const DEFAULT_CONSUMER_TIMEOUT_MS = 30 * 60_000
/** The transport's default `claimAfterMs`. */
const DEFAULT_CLAIM_AFTER_MS = 10 * 60_000

/** A claim delay as the worker's lines say it: `10 min`, `45 s`, `200 ms`. */
function claimText(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`
  return `${ms} ms`
}
