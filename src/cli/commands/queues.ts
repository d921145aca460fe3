/**
 * `taskweave queues`: the work queues and workers of a broker — attempts waiting, held by workers,
 * delayed and dead per queue, and each worker heard from lately with what it runs.
 * @module
 */
import { EXIT } from '../io.js'
import type { CliIo } from '../io.js'
import { openTransport, requiredBroker } from '../open-transport.js'
import { redactUrl } from '../transport-spec.js'

/** Parsed arguments of `queues`. */
export interface QueuesCommandArgs {
  readonly transport?: string
  readonly prefix?: string
  readonly json: boolean
  /** `--config`: the configuration file (its `transport` and `prefix`). */
  readonly config?: string
}

/** Prints the broker's queues and workers; resolves to the exit code. */
export async function queuesCommand(args: QueuesCommandArgs, io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const spec = await requiredBroker(args, env, '"queues"')
  const transport = await openTransport(spec)
  try {
    const stats = await transport.stats()
    if (args.json) {
      io.stdout(JSON.stringify(stats, null, 2))
      return EXIT.ok
    }
    io.stdout(`${stats.type} broker ${redactUrl(spec.url)}, prefix ${spec.prefix ?? 'taskweave'}`)
    if (stats.queues.length === 0) io.stdout('no work queues yet')
    else {
      const width = Math.max(5, ...stats.queues.map((q) => q.queue.length))
      io.stdout(`${'queue'.padEnd(width)}  waiting   active  delayed     dead`)
      for (const q of stats.queues) io.stdout(`${q.queue.padEnd(width)}  ${[q.waiting, q.active, q.delayed, q.dead].map((n) => String(n).padStart(7)).join('  ')}`)
    }
    if (stats.workers.length === 0) io.stdout('no worker heard from lately')
    for (const w of stats.workers) {
      const claimed = w.claimed !== undefined && w.claimed.length > 0 ? ` (${w.claimed.length} claimed)` : ''
      io.stdout(`worker ${w.worker} (${w.host}, pid ${w.pid}): ${w.running}/${w.concurrency} running${claimed}, queues ${w.queues.join(', ')}${w.draining === true ? ', draining' : ''}`)
    }
    return EXIT.ok
  } finally {
    await transport.close()
  }
}
