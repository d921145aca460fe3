/**
 * Test helpers: a manual clock that skips time. Import from `taskweave/testing`.
 * @module
 */
export { ManualClock } from './manual-clock.js'
export { storeConformanceCases } from './store-conformance.js'
export type { StoreConformanceCase, StoreUnderTest } from './store-conformance.js'
