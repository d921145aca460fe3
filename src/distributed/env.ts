/**
 * Worker settings from the environment, under the names the seed's task manager uses, so a
 * deployment configured for it keeps its variables: `TASK_MANAGER_WORKERS` (attempts one worker
 * runs at once), `INSTANCE_TIMEOUT` (seconds an idle agent session's instance is kept), and the
 * broker (`MESSAGE_QUEUE_TYPE` with `REDIS_URL` / `RABBITMQ_URL`, read by `taskweave/queues`'s
 * `messageQueueOptionsFromEnv`). Blank values count as unset.
 * @module
 */
import { TaskweaveError } from '../core/errors.js'

/** What {@link workerSettingsFromEnv} read. */
export interface WorkerEnvSettings {
  /** From `TASK_MANAGER_WORKERS`. */
  readonly concurrency?: number
  /** From `INSTANCE_TIMEOUT` (seconds), as `startWorker`'s `agentPool.idleTimeout` (ms). */
  readonly agentPool?: { readonly idleTimeout: number }
}

function positive(env: Readonly<Record<string, string | undefined>>, name: string, integer: boolean): number | undefined {
  const text = env[name]?.trim()
  if (text === undefined || text === '') return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new TaskweaveError('TW_INVALID_OPTION', `${name} must be a ${integer ? 'whole number' : 'number'} > 0; received "${text}"`, { retryable: false, details: { option: name } })
  }
  return n
}

/** Reads `TASK_MANAGER_WORKERS` and `INSTANCE_TIMEOUT`; spread the result into `startWorker`'s options. */
export function workerSettingsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): WorkerEnvSettings {
  const concurrency = positive(env, 'TASK_MANAGER_WORKERS', true)
  const instanceTimeout = positive(env, 'INSTANCE_TIMEOUT', false)
  return {
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(instanceTimeout !== undefined ? { agentPool: { idleTimeout: instanceTimeout * 1000 } } : {}),
  }
}
