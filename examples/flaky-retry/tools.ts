/** Tools of the flaky-retry example: a service that fails before it answers, and a notifier. */
import { setTimeout as delay } from 'node:timers/promises'
import { z } from 'zod'
import { defineTool, TaskweaveError } from 'taskweave'

/** Fails with ECONNRESET on its first `failures` attempts, then reports a stock level. */
export const flakyInventory = defineTool({
  name: 'demo.flakyInventory',
  description: 'A stock service that drops its first connections.',
  input: z.object({ sku: z.string(), failures: z.number().int().min(0) }),
  run: async ({ sku, failures }, ctx) => {
    await delay(20, undefined, { signal: ctx.signal })
    if (ctx.attempt <= failures) {
      throw new TaskweaveError('ECONNRESET', `inventory service reset the connection (attempt ${ctx.attempt})`)
    }
    return { sku, stock: 7, checkedOnAttempt: ctx.attempt }
  },
})

/** Records a message (a stand-in for a chat or e-mail notification). */
export const notify = defineTool({
  name: 'demo.notify',
  description: 'Sends a notification.',
  input: z.object({ message: z.string() }),
  run: ({ message }, ctx) => {
    ctx.logger.info(message)
    return { sent: message }
  },
})
