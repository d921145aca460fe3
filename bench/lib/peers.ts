/**
 * Peer contenders built the same way in every benchmark. A p-queue contender imports p-queue in its
 * own child (never taskweave) and is timed from creating its queue to the end of `body`, so its
 * figure includes what taskweave's includes: building the work, running it, collecting results.
 * @module
 */
import type PQueue from 'p-queue'
import { WARM } from './harness.js'
import type { ContenderSpec, Sample } from './harness.js'

/** What a p-queue contender's body returns: a repetition's figures except its time. */
export type Untimed = Omit<Sample, 'ms'>

/** A p-queue contender at `concurrency`: `body` gets a fresh queue per repetition. */
export function pQueueContender(concurrency: number, body: (queue: PQueue) => Promise<Untimed>): ContenderSpec {
  return {
    ...WARM,
    async setup() {
      const { default: Queue } = await import('p-queue')
      return async (): Promise<Sample> => {
        const t0 = performance.now()
        const figures = await body(new Queue({ concurrency }))
        return { ms: performance.now() - t0, ...figures }
      }
    },
  }
}
