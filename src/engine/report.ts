/** The run report's types, defined in `core` (plain data every layer may hold). @module */
export type { AttemptRecord, RunResult, RunUsage, TaskReport } from '../core/report.js'
