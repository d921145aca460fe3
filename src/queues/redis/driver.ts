/**
 * Loads BullMQ and ioredis, optional peer dependencies that only this folder imports, and only
 * when a Redis queue or transport is opened. A missing package is reported with the command that
 * installs it.
 * @module
 */
import type * as BullMQ from 'bullmq'
import type { Redis } from 'ioredis'
import { TaskweaveError } from '../../core/errors.js'
import { describeCause, scopeText } from './errors.js'
import type { ErrorScope } from './errors.js'

/** The BullMQ module. */
export type BullModule = typeof BullMQ
/** The ioredis client class. */
export type RedisClass = typeof Redis

/** What the adapters need of the two packages. */
export interface Drivers {
  readonly bullmq: BullModule
  readonly Redis: RedisClass
}

let loaded: Promise<Drivers> | undefined

/** BullMQ and ioredis, loaded once per process; `TW_QUEUE`/`TW_TRANSPORT` saying how to install a missing one. */
export async function loadDrivers(scope: ErrorScope): Promise<Drivers> {
  loaded ??= importDrivers()
  try {
    return await loaded
  } catch (err) {
    // A failed load is not cached: the package may be installed while the process runs.
    loaded = undefined
    const missing = err instanceof MissingPackage ? err.packageName : 'bullmq'
    throw new TaskweaveError(scope.code, `${scopeText(scope)}: the "${missing}" package could not be loaded (install it with \`npm install bullmq ioredis\`): ${describeCause(err instanceof MissingPackage ? err.cause : err)}`, {
      cause: err,
      retryable: false,
      details: { location: scope.location, package: missing },
    })
  }
}

class MissingPackage extends Error {
  constructor(
    readonly packageName: string,
    cause: unknown,
  ) {
    super(`cannot load ${packageName}`, { cause })
  }
}

async function importDrivers(): Promise<Drivers> {
  const bullmq = await import('bullmq').catch((err: unknown) => {
    throw new MissingPackage('bullmq', err)
  })
  const ioredis = await import('ioredis').catch((err: unknown) => {
    throw new MissingPackage('ioredis', err)
  })
  return { bullmq, Redis: ioredis.Redis }
}
