/**
 * A worker asks the broker whether it still holds a long attempt before reporting it. Only a lease
 * the broker says is lost drops the outcome; a passing broker error during the check (a command
 * timeout, a reconnect) does not, or the attempt would leave the broker with its outcome unsent.
 */
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import type { Transport } from '../core/transport.js'
import { createEngine } from '../engine/engine.js'
import { createMemoryTransport } from '../queues/index.js'
import { createRemoteRunner } from './remote-runner.js'
import { startWorker } from './worker.js'

/** A transport whose deliveries fail their lease check with `error`. */
function failingLeaseChecks(inner: Transport, error: Error): Transport {
  return new Proxy(inner, {
    get(target, name) {
      if (name !== 'consume') {
        const value = Reflect.get(target, name, target) as unknown
        // Bound to the transport itself: its methods use private fields.
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      }
      return (handler: Parameters<Transport['consume']>[0], options: Parameters<Transport['consume']>[1]) =>
        target.consume((delivery) => handler({ ...delivery, ack: () => delivery.ack(), nack: (o) => delivery.nack(o), deadLetter: (r) => delivery.deadLetter(r), extend: () => Promise.reject(error) }), options)
    },
  })
}

describe('the worker\'s lease check', () => {
  it('reports the outcome of a long attempt when the check fails for a passing broker error', async () => {
    const transport = createMemoryTransport()
    const slow = defineTool({ name: 'slow', input: z.object({}), run: () => new Promise((resolve) => setTimeout(() => resolve('done'), 150)) })
    const worker = await startWorker({ transport: failingLeaseChecks(transport, new Error('ECONNRESET')), tools: [slow], builtins: false })
    const runner = createRemoteRunner({ transport, reconcileEveryMs: 0 })
    await runner.listen()
    const engine = createEngine({ tools: [slow], builtins: false, runner })
    try {
      const result = await engine.run({ id: 'long', tasks: [{ id: 's', tool: 'slow', timeout: '5s' }] })
      expect(result.tasks['s']).toMatchObject({ status: 'succeeded', output: 'done', attempts: 1 })
    } finally {
      await engine.close()
      await worker.close({ graceMs: 100 })
      await runner.close()
      await transport.close()
    }
  })
})
