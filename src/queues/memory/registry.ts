/**
 * Memory queues by name. A registry is what "the same broker" means in one process: handles
 * opened on one name through one registry share one {@link QueueState}, as handles on one Redis
 * or RabbitMQ server share a queue. `createMemoryQueue` uses the process's default registry; each
 * memory broker of the transport has its own.
 * @module
 */
import type { Clock } from '../../core/clock.js'
import { TaskweaveError } from '../../core/errors.js'
import { QueueState } from './queue-state.js'

/** Named queue states sharing one clock per queue. */
export class QueueRegistry {
  readonly #states = new Map<string, QueueState>()

  /**
   * The state of queue `name`, created on first use. A queue has one clock (its delays and
   * timings run on it), so a handle that brings another clock is refused.
   */
  acquire(name: string, clock: Clock): QueueState {
    const found = this.#states.get(name)
    if (found !== undefined) {
      if (found.clock !== clock) {
        throw new TaskweaveError('TW_INVALID_OPTION', `memory queue "${name}" is already open on another clock: every handle on one queue must use the same clock`, { retryable: false, details: { option: 'clock', queue: name } })
      }
      return found
    }
    const state = new QueueState(name, clock)
    this.#states.set(name, state)
    return state
  }

  /** The state of queue `name` if it exists. */
  get(name: string): QueueState | undefined {
    return this.#states.get(name)
  }

  /** Every queue, in the order they were created. */
  states(): IterableIterator<QueueState> {
    return this.#states.values()
  }

  /** Removes queue `name` and everything in it. */
  destroy(name: string): void {
    const state = this.#states.get(name)
    if (state === undefined) return
    this.#states.delete(name)
    state.destroy()
  }
}

/** The registry of `createMemoryQueue`: one per process (per module instance). */
export const defaultQueueRegistry = new QueueRegistry()
