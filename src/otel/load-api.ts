/** Loads `@opentelemetry/api` (an optional peer dependency) for the instrumentations of this folder. @module */
import type * as OpenTelemetry from '@opentelemetry/api'
import { TaskweaveError } from '../core/errors.js'

/** The OpenTelemetry API, or an error saying what `who` needs installed. */
export async function loadOpenTelemetry(who: string): Promise<typeof OpenTelemetry> {
  try {
    return await import('@opentelemetry/api')
  } catch (error) {
    throw new TaskweaveError('TW_INVALID_STATE', `${who} needs @opentelemetry/api: npm install @opentelemetry/api (and an OpenTelemetry SDK to export the spans)`, { retryable: false, cause: error, details: { missing: '@opentelemetry/api' } })
  }
}
