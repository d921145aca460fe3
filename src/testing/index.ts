/**
 * Test helpers: a manual clock that skips time, and the conformance suites of the run store, the
 * message queue and the attempt transport. Import from `taskweave/testing`.
 * @module
 */
export { ManualClock } from './manual-clock.js'
export { storeConformanceCases } from './store-conformance.js'
export type { StoreConformanceCase, StoreUnderTest } from './store-conformance.js'
export { queueConformanceCases } from './queue-conformance.js'
export type { QueueConformanceCase, QueueUnderTest } from './queue-conformance.js'
export { transportConformanceCases } from './transport-conformance.js'
export type { TransportConformanceCase, TransportUnderTest } from './transport-conformance.js'
