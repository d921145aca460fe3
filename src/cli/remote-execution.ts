/**
 * `run` and `resume` with a broker: the command's engine becomes the run's owner and sends each
 * attempt to `taskweave worker` processes through the transport (see `taskweave/distributed`).
 * Without a broker it returns nothing to add, and the run executes in this process.
 * @module
 */
import type { AttemptRunner } from '../core/attempt.js'
import { createRemoteRunner } from '../distributed/remote-runner.js'
import { openTransport } from './open-transport.js'
import { redactUrl, transportSpecOf } from './transport-spec.js'

/** What a command adds to its engine for remote execution, and how to let go of the broker. */
export interface RemoteExecution {
  /** `{ runner }` for `createEngine`, or empty. */
  readonly engineOptions: { readonly runner?: AttemptRunner }
  /** Closes the transport (after the engine, which closes the runner). */
  close(): Promise<void>
  /** Where the tasks go, as the command's lines say it (`amqp://user:***@host:5672 --prefix P`); undefined: this process. */
  readonly where?: string
}

/** How often, and after how long, the command looks for workers while attempts wait. */
const NO_WORKER_CHECK_MS = 10_000
/** The first look for workers, once attempts are out. */
const FIRST_CHECK_MS = 3_000

/**
 * Opens the broker `--transport` (or the environment) names, if any. `warn` hears, once, when
 * attempts wait and no worker has been heard from: they would wait in the broker for good, the
 * run showing them started, and nothing else would say why.
 */
export async function openRemoteExecution(flag: string | undefined, prefix: string | undefined, warn: (text: string) => void, env: NodeJS.ProcessEnv = process.env, checkEveryMs = NO_WORKER_CHECK_MS): Promise<RemoteExecution> {
  const spec = transportSpecOf(flag, env, prefix)
  if (spec === undefined) return { engineOptions: {}, close: () => Promise.resolve() }
  const transport = await openTransport(spec)
  const runner = createRemoteRunner({ transport })
  try {
    // Listening before the first publish: a report is never sent to a channel nobody reads.
    await runner.listen()
  } catch (err) {
    await transport.close()
    throw err
  }
  let warned = false
  const lookForWorkers = (): void => {
    if (warned || runner.stats().inFlight === 0) return
    transport.workers({ withinMs: checkEveryMs * 3 }).then(
      (workers) => {
        if (warned || workers.length > 0 || runner.stats().inFlight === 0) return
        warned = true
        clearInterval(check)
        const where = `${redactUrl(spec.url)}${spec.prefix !== undefined ? ` --prefix ${spec.prefix}` : ''}`
        warn(`no worker has been heard from on ${where}: the run's attempts wait in the broker until one starts (taskweave worker --transport ${where} --tools …)`)
      },
      () => undefined,
    )
  }
  // A first look soon (a run on a broker nobody serves shows its tasks started and nothing else),
  // then every checkEveryMs.
  const first = setTimeout(lookForWorkers, Math.min(FIRST_CHECK_MS, checkEveryMs))
  const check = setInterval(lookForWorkers, checkEveryMs)
  first.unref()
  check.unref()
  return {
    engineOptions: { runner },
    where: `${redactUrl(spec.url)}${spec.prefix !== undefined ? ` --prefix ${spec.prefix}` : ''}`,
    close: () => {
      clearTimeout(first)
      clearInterval(check)
      return transport.close()
    },
  }
}
