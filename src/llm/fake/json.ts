/** Narrowing of parsed JSON values. @module */
import type { FakeJson } from './types.js'

/** A JSON object (not null, not an array). */
export function isJsonObject(value: FakeJson | undefined): value is { readonly [key: string]: FakeJson } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A JSON array. */
export function isJsonArray(value: FakeJson | undefined): value is readonly FakeJson[] {
  return Array.isArray(value)
}
