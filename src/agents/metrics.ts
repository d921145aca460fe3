/** Counters behind `health()` and `metrics()` of the agent session pool. Plain numbers, no timers. @module */

/** Health of the pool, in the shape of the seed's task-manager health. */
export interface AgentPoolHealth {
  /** True while the pool takes new executions (false once `close()` was called). */
  readonly running: boolean
  /** `running`, `draining` (closing, executions still finishing) or `closed`. */
  readonly state: 'running' | 'draining' | 'closed'
  /** Executions that may run at once (`maxConcurrent`). */
  readonly workerCount: number
  /** Instances alive or being created. */
  readonly activeInstances: number
  /** Executions running now. */
  readonly runningTasks: number
  /** The message queue flavour: executions are queued in memory, in this process. */
  readonly queueType: 'memory'
  readonly queue: {
    /** Submitted, not started (waiting for their session, an instance or a worker slot). */
    readonly pending: number
    /** Finished successfully. */
    readonly completed: number
    /** Finished with an error (cancellations included). */
    readonly failed: number
  }
}

/** Counters of one agent. */
export interface AgentMetrics {
  /** Executions finished (succeeded or failed) after they started. */
  readonly executions: number
  /** Of those, the ones that failed (cancellations included). */
  readonly failures: number
  /** Mean time from start to end of an execution, in clock ms (0 before the first). */
  readonly meanDurationMs: number
  readonly instancesCreated: number
  /** Every disposal: idle timeout, eviction and shutdown. */
  readonly instancesDisposed: number
  /** Disposals forced by `maxInstances` (a subset of `instancesDisposed`). */
  readonly instancesEvicted: number
  /** Instances alive or being created now. */
  readonly activeInstances: number
}

/** Metrics of the pool. */
export interface AgentPoolMetrics {
  /** Per agent name (every agent of the pool, used or not). */
  readonly agents: Readonly<Record<string, AgentMetrics>>
  /** Mean execution time over all agents, in clock ms (the seed's `average_processing_time`). */
  readonly meanDurationMs: number
}

/** Mutable counters of one agent. */
export class AgentCounters {
  executions = 0
  failures = 0
  totalDurationMs = 0
  instancesCreated = 0
  instancesDisposed = 0
  instancesEvicted = 0
  activeInstances = 0

  /** Records one finished execution. */
  finished(durationMs: number, failed: boolean): void {
    this.executions++
    this.totalDurationMs += durationMs
    if (failed) this.failures++
  }

  /** A frozen copy. */
  snapshot(): AgentMetrics {
    return {
      executions: this.executions,
      failures: this.failures,
      meanDurationMs: this.executions === 0 ? 0 : this.totalDurationMs / this.executions,
      instancesCreated: this.instancesCreated,
      instancesDisposed: this.instancesDisposed,
      instancesEvicted: this.instancesEvicted,
      activeInstances: this.activeInstances,
    }
  }
}
