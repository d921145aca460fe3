/** The states a task and a run can be in: plain names every layer uses (events, reports, journals). @module */

/** State of one task. */
export type TaskStatus = 'pending' | 'ready' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'skipped' | 'cancelled'

/** Final state of a run. */
export type RunStatus = 'succeeded' | 'partial' | 'failed' | 'cancelled'
