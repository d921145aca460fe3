/**
 * `run` and `resume` with a broker: the command's engine becomes the run's owner and sends each
 * attempt to `taskweave worker` processes through the transport (see `taskweave/distributed`).
 * Without a broker it returns nothing to add, and the run executes in this process.
 * @module
 */
import type { AttemptRunner } from '../core/attempt.js'
import { createRemoteRunner } from '../distributed/remote-runner.js'
import { openTransport } from './open-transport.js'
import { transportSpecOf } from './transport-spec.js'

/** What a command adds to its engine for remote execution, and how to let go of the broker. */
export interface RemoteExecution {
  /** `{ runner }` for `createEngine`, or empty. */
  readonly engineOptions: { readonly runner?: AttemptRunner }
  /** Closes the transport (after the engine, which closes the runner). */
  close(): Promise<void>
}

/** Opens the broker `--transport` (or the environment) names, if any. */
export async function openRemoteExecution(flag: string | undefined, prefix: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<RemoteExecution> {
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
  return { engineOptions: { runner }, close: () => transport.close() }
}
