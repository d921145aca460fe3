/**
 * A typed event emitter with listeners per event name, catch-all listeners, and async iterators.
 * Emitting with no listener costs one property read, so the engine's hot path stays cheap; the
 * engine also checks {@link EventEmitter.wants} before it builds a payload.
 *
 * Listeners are user code and never break the engine: a listener that throws, or an async one
 * whose promise rejects, is reported through the logger and otherwise ignored. A listener that
 * returns undefined (the usual case) costs one comparison for this.
 * @module
 */
import { logFailure } from '../core/log-failure.js'
import { silentLogger } from '../core/logger.js'
import type { Logger } from '../core/logger.js'
import { whenSettled } from '../core/returned.js'
import type { EventMap, EventName, TaskweaveEvent } from './events.js'

/**
 * Bumped whenever a listener is added or removed on any emitter: an emitter that found no listener
 * in itself or its parents can answer `wants` with one comparison until something subscribes.
 */
let subscriptionVersion = 0

/** Removes the listener it was returned for. */
export type Unsubscribe = () => void

/** Typed emitter of {@link TaskweaveEvent}s. */
export class EventEmitter {
  // Made on the first subscription: most runs' emitters never get a listener of their own.
  #byName: Map<EventName, Set<(event: never) => unknown>> | undefined
  #all: Set<(event: TaskweaveEvent) => unknown> | undefined
  readonly #parents: EventEmitter[]
  readonly #logger: Logger
  /** Listeners registered here, of any name. */
  #count = 0
  /** The {@link subscriptionVersion} at which no listener was found here or in a parent, or -1. */
  #silentAt = -1

  /**
   * @param parents emitters that also receive every event (the engine's, for a run's emitter).
   * @param logger where failing listeners are reported. @default the first parent's, else silent
   */
  constructor(parents: EventEmitter[] = [], logger?: Logger) {
    this.#parents = parents
    const parent = parents[0]
    this.#logger = logger ?? (parent !== undefined ? parent.#logger : silentLogger)
  }

  /**
   * Listens to one event name. The listener may be async (what it returns is otherwise ignored).
   * A listener that throws or rejects never breaks the engine: the error is reported through the
   * emitter's logger.
   */
  on<K extends EventName>(name: K, listener: (event: { readonly type: K } & EventMap[K]) => unknown): Unsubscribe {
    const byName = (this.#byName ??= new Map<EventName, Set<(event: never) => unknown>>())
    let set = byName.get(name)
    if (set === undefined) byName.set(name, (set = new Set()))
    const stored = listener as (event: never) => unknown
    set.add(stored)
    this.#count++
    subscriptionVersion++
    return () => {
      if (set.delete(stored)) {
        this.#count--
        subscriptionVersion++
      }
    }
  }

  /** Listens to one event, once. */
  once<K extends EventName>(name: K, listener: (event: { readonly type: K } & EventMap[K]) => unknown): Unsubscribe {
    const off = this.on(name, (event) => {
      off()
      return listener(event) // returned, so an async listener's rejection is still caught
    })
    return off
  }

  /** Listens to every event. */
  onAny(listener: (event: TaskweaveEvent) => unknown): Unsubscribe {
    const all = (this.#all ??= new Set<(event: TaskweaveEvent) => unknown>())
    all.add(listener)
    this.#count++
    subscriptionVersion++
    return () => {
      if (all.delete(listener)) {
        this.#count--
        subscriptionVersion++
      }
    }
  }

  /** True when something listens to `name` here or in a parent (build the payload only then). */
  wants(name: EventName): boolean {
    if (this.#silentAt === subscriptionVersion) return false
    if (!this.#anyListener()) {
      this.#silentAt = subscriptionVersion
      return false
    }
    if (this.#count === 0) {
      for (const parent of this.#parents) if (parent.wants(name)) return true
      return false
    }
    if ((this.#all?.size ?? 0) > 0 || (this.#byName?.get(name)?.size ?? 0) > 0) return true
    for (const parent of this.#parents) if (parent.wants(name)) return true
    return false
  }

  #anyListener(): boolean {
    if (this.#count > 0) return true
    for (const parent of this.#parents) if (parent.#anyListener()) return true
    return false
  }

  /** Delivers an event to its listeners, then to the parents'. */
  emit(event: TaskweaveEvent): void {
    const set = this.#byName?.get(event.type)
    if (set !== undefined) for (const listener of set) this.#call(listener as (event: TaskweaveEvent) => unknown, event)
    if (this.#all !== undefined) for (const listener of this.#all) this.#call(listener, event)
    for (const parent of this.#parents) parent.emit(event)
  }

  /**
   * Every event from now on as an async iterator (buffered, so a slow consumer loses nothing).
   * Ends when `until` resolves (after the events emitted before it) or `signal` aborts.
   */
  stream(options: { readonly until?: Promise<unknown>; readonly signal?: AbortSignal } = {}): AsyncIterableIterator<TaskweaveEvent> {
    const buffer: TaskweaveEvent[] = []
    let wake: (() => void) | undefined
    let ended = false
    const off = this.onAny((event) => {
      buffer.push(event)
      wake?.()
    })
    const signal = options.signal
    const end = (): void => {
      if (ended) return
      ended = true
      off()
      signal?.removeEventListener('abort', end)
      wake?.()
    }
    options.until?.then(end, end)
    if (signal?.aborted === true) end()
    else signal?.addEventListener('abort', end, { once: true })
    const iterator: AsyncIterableIterator<TaskweaveEvent> = {
      async next() {
        for (;;) {
          const event = buffer.shift()
          if (event !== undefined) return { value: event, done: false }
          if (ended) return { value: undefined, done: true }
          await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
        }
      },
      async return() {
        end()
        buffer.length = 0
        return { value: undefined, done: true }
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }

  /** Calls a listener; its throw or rejection is logged, never propagated (a listener's bug must not corrupt a run). */
  #call(listener: (event: TaskweaveEvent) => unknown, event: TaskweaveEvent): void {
    let returned: unknown
    try {
      returned = listener(event)
    } catch (err) {
      this.#report(event, err)
      return
    }
    if (returned !== undefined) whenSettled(returned, ignore, (err) => this.#report(event, err))
  }

  #report(event: TaskweaveEvent, err: unknown): void {
    logFailure(this.#logger, 'an event listener failed', err, { event: event.type, runId: event.runId })
  }
}

function ignore(): void {}

