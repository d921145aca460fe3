/** The check, shared by the owner's runner and the worker, that the transport they were given is one. @module */
import { TaskweaveError } from '../core/errors.js'
import { checkMethods } from '../core/known-options.js'

/** Throws `TW_INVALID_OPTION` unless `transport` is a transport (an object with its methods), saying `where` needs one. */
export function checkTransport(transport: unknown, where: string): void {
  if (transport === undefined) throw new TaskweaveError('TW_INVALID_OPTION', `${where}() needs a transport: openRedisTransport(…), openRabbitTransport(…) or createTransport({ type: 'memory' })`, { retryable: false, details: { option: 'transport' } })
  checkMethods(transport, 'transport', ['publish', 'consume', 'report', 'receive', 'cancel', 'onCancel', 'close'])
}
