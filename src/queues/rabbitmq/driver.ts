/**
 * Loads `amqplib` (an optional peer dependency: only this folder imports it, and only when a
 * RabbitMQ queue or transport is opened). Everything else here imports its types only.
 * @module
 */
import type * as Amqp from 'amqplib'
import { TaskweaveError } from '../../core/errors.js'
import { describeCause } from './errors.js'
import type { Scope } from './errors.js'

/** The `amqplib` module. */
export type AmqpModule = typeof Amqp

/** The `amqplib` module, or `TW_QUEUE` / `TW_TRANSPORT` saying how to install it. */
export async function loadAmqp(scope: Scope): Promise<AmqpModule> {
  try {
    const loaded = (await import('amqplib')) as AmqpModule & { readonly default?: AmqpModule }
    // A CommonJS package: its exports arrive as the default export, and (when Node can tell) as named ones too.
    return loaded.default ?? loaded
  } catch (err) {
    throw new TaskweaveError(scope.code, `${scope.subject} at ${scope.location}: the "amqplib" package could not be loaded (install it with \`npm install amqplib\`): ${describeCause(err)}`, {
      cause: err,
      retryable: false,
      details: { location: scope.location },
    })
  }
}
