/**
 * The session table: every `agentName#sessionId` with work or an instance, in least-recently-used
 * order, and the pool's instance places (`maxInstances`).
 *
 * States of a session, and what moves it:
 * - **busy** (`work > 0`): executions queued or running. Never evicted, never idle-disposed.
 * - **idle with an instance** (`work === 0`, `instance` set): an eviction candidate; the pool arms
 *   its idle timer. A new execution (`enter`) makes it busy again and cancels the timer.
 * - **gone**: no work and no instance; the entry is deleted.
 *
 * A session without an instance asks for a place with `reserve()`. Places are granted first come,
 * first served: while a place is free it is taken; else the least recently used idle instance is
 * evicted and its place handed over; else the request waits until a session becomes idle or an
 * instance goes away (the pool never evicts an instance that has work: it waits instead).
 * @module
 */
import type { CancelTimer } from '../core/clock.js'
import type { AnyAgent } from './define-agent.js'
import { Gate } from './gate.js'

/** Why an instance leaves the pool. */
export type ReleaseReason = 'idle' | 'evicted' | 'closed' | 'failed'

/** What `create()` gave: never a rejected promise, so nobody has to be waiting for it. */
export type Creation = { readonly ok: true; readonly instance: unknown } | { readonly ok: false; readonly error: unknown }

/** A session's hold on one instance place. */
export interface InstanceHolder {
  /** Started by the first execution that gets a worker slot; undefined until then. */
  creation: Promise<Creation> | undefined
  /** Aborted when the instance is no longer wanted; `create()` receives its signal. */
  readonly lifetime: AbortController
}

/** One agent session. */
export interface Session {
  readonly key: string
  readonly agent: AnyAgent
  readonly sessionId: string
  /** Serializes the session's executions (capacity 1), or lets them overlap for `concurrentSafe` agents. */
  readonly turn: Gate
  /** Executions submitted and not yet finished. */
  work: number
  instance: InstanceHolder | undefined
  cancelIdle: CancelTimer | undefined
}

/** Callbacks into the pool. */
export interface SessionTableHooks {
  /** A session got an instance place. */
  assigned(session: Session): void
  /** A session lost its place; returns when the instance is disposed (never rejects). */
  released(session: Session, holder: InstanceHolder, reason: ReleaseReason): Promise<void>
}

interface PlaceWaiter {
  readonly session: Session
  readonly resolve: (disposed: Promise<void>) => void
  readonly onAbort: () => void
}

const NOTHING_TO_WAIT_FOR: Promise<void> = Promise.resolve()

/** Sessions in LRU order plus the instance places. */
export class SessionTable {
  // Map iteration order is insertion order: re-inserting on every use keeps it least recent first.
  readonly #sessions = new Map<string, Session>()
  readonly #waiters: PlaceWaiter[] = []
  #instances = 0

  constructor(
    readonly maxInstances: number,
    readonly hooks: SessionTableHooks,
  ) {}

  /** Sessions holding a place (instance alive or being created). */
  get instances(): number {
    return this.#instances
  }

  /** Every session, least recently used first. */
  sessions(): Session[] {
    return [...this.#sessions.values()]
  }

  /** The session under `key`, if it has work or an instance. */
  get(key: string): Session | undefined {
    return this.#sessions.get(key)
  }

  /** Counts one more execution on a session (creating the entry) and marks it most recently used. */
  enter(agent: AnyAgent, sessionId: string): Session {
    const key = `${agent.name}#${sessionId}`
    const session = this.#sessions.get(key) ?? {
      key,
      agent,
      sessionId,
      turn: new Gate(agent.concurrentSafe === true ? Infinity : 1),
      work: 0,
      instance: undefined,
      cancelIdle: undefined,
    }
    session.cancelIdle?.()
    session.cancelIdle = undefined
    session.work++
    this.#touch(session)
    return session
  }

  /** Counts one execution finished; returns true when the session is now idle. */
  leave(session: Session): boolean {
    session.work--
    if (session.work > 0) {
      this.#touch(session)
      return false
    }
    if (session.instance === undefined) this.#sessions.delete(session.key)
    else this.#touch(session)
    // An idle instance can be evicted: a waiting session may now get its place.
    this.#wake()
    return true
  }

  /** Resolves once `session` holds an instance place (evicting or waiting as the header says). */
  reserve(session: Session, signal: AbortSignal): Promise<void> {
    if (session.instance !== undefined) return NOTHING_TO_WAIT_FOR
    if (signal.aborted) return Promise.reject(signal.reason)
    if (this.#waiters.length === 0) {
      const granted = this.#tryGrant(session)
      if (granted !== undefined) return granted
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: PlaceWaiter = {
        session,
        resolve: (disposed) => {
          signal.removeEventListener('abort', waiter.onAbort)
          resolve(disposed)
        },
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter)
          if (at >= 0) this.#waiters.splice(at, 1)
          reject(signal.reason)
          // The head of the queue may have been the one blocking the others.
          this.#wake()
        },
      }
      this.#waiters.push(waiter)
      signal.addEventListener('abort', waiter.onAbort, { once: true })
    })
  }

  /** Takes `session`'s instance away (idle timeout, shutdown, failed creation) and disposes it. */
  release(session: Session, reason: ReleaseReason): Promise<void> {
    const disposed = this.#detach(session, reason)
    this.#wake()
    return disposed
  }

  #detach(session: Session, reason: ReleaseReason): Promise<void> {
    const holder = session.instance
    if (holder === undefined) return NOTHING_TO_WAIT_FOR
    session.instance = undefined
    session.cancelIdle?.()
    session.cancelIdle = undefined
    this.#instances--
    if (session.work === 0) this.#sessions.delete(session.key)
    return this.hooks.released(session, holder, reason)
  }

  /** Grants a place now (returning when the evicted instance, if any, is disposed), or undefined. */
  #tryGrant(session: Session): Promise<void> | undefined {
    if (session.instance !== undefined) return NOTHING_TO_WAIT_FOR
    let disposed = NOTHING_TO_WAIT_FOR
    if (this.#instances >= this.maxInstances) {
      const victim = this.#leastRecentlyUsedIdle(session)
      if (victim === undefined) return undefined
      // Not release(): waking waiters from here would serve the queue head twice.
      disposed = this.#detach(victim, 'evicted')
    }
    session.instance = { creation: undefined, lifetime: new AbortController() }
    this.#instances++
    this.hooks.assigned(session)
    return disposed
  }

  #leastRecentlyUsedIdle(except: Session): Session | undefined {
    for (const session of this.#sessions.values()) {
      if (session !== except && session.work === 0 && session.instance !== undefined) return session
    }
    return undefined
  }

  /**
   * Serves waiting sessions in order while places can be granted. Past the first one that cannot
   * be served, waiters whose session got its place meanwhile (another execution of a
   * `concurrentSafe` session) are still let through: they take no place, and leaving them queued
   * could keep their session busy, and so unevictable, for good.
   */
  #wake(): void {
    let blocked = false
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i] as PlaceWaiter
      const granted = waiter.session.instance !== undefined ? NOTHING_TO_WAIT_FOR : blocked ? undefined : this.#tryGrant(waiter.session)
      if (granted === undefined) {
        blocked = true
        i++
        continue
      }
      this.#waiters.splice(i, 1)
      waiter.resolve(granted)
    }
  }

  #touch(session: Session): void {
    this.#sessions.delete(session.key)
    this.#sessions.set(session.key, session)
  }
}
