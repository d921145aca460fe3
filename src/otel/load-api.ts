/** Loads `@opentelemetry/api` (an optional peer dependency) for the instrumentations of this folder. @module */
import type * as OpenTelemetry from '@opentelemetry/api'

/** The OpenTelemetry API, or an error saying what `who` needs installed. */
export async function loadOpenTelemetry(who: string): Promise<typeof OpenTelemetry> {
  try {
    return await import('@opentelemetry/api')
  } catch (error) {
    throw new Error(`${who} needs @opentelemetry/api: npm install @opentelemetry/api (and an OpenTelemetry SDK to export the spans)`, { cause: error })
  }
}
