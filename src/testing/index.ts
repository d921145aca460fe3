/**
 * Test helpers: a manual clock that skips time. Import from `taskweave/testing`.
 * @module
 */
export { ManualClock } from './manual-clock.js'
