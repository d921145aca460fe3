/**
 * Timers of any length on any {@link Clock}. The port's `setTimer` is only promised to hold a
 * delay up to {@link MAX_TIMER_MS}: an injected clock built on `setTimeout` fires a longer one
 * after 1 ms, so a 30-day timeout would fire at once, and a loop that re-arms "until due" would
 * spin. Here a long delay is split into hops of at most `MAX_TIMER_MS`, each measured from one
 * absolute deadline on the same clock, so early hops cannot add up and none can spin.
 * @module
 */
// Defined beside the Clock port, so that `sleep()` there uses it too.
export { setClockTimer } from './clock.js'
