/**
 * One AMQP connection that comes back by itself. amqplib's plain connections do not reconnect,
 * so this module owns the loop:
 *
 * - **opening**: `open()` tries once, within `connectTimeoutMs`: an unreachable or refusing
 *   broker fails at once with an error naming the URL, rather than retrying in the background.
 * - **open**: a {@link Session} (the connection, its publishing confirm channel, a channel for
 *   declarations) serves every call. Its hooks ran on it: topology declared, consumers started.
 * - **reconnecting**: the connection closed (the broker restarted, the network dropped, an admin
 *   closed it, or the publishing channel failed). Calls wait in {@link RabbitConnection.ready}
 *   for at most their own deadline; the loop retries after `reconnectDelayMs`, doubled per failed
 *   try up to `maxReconnectDelayMs`, with jitter. A try succeeds only when every hook ran on the
 *   new connection (a hook that fails makes it a failed try); then waiting calls go on.
 * - **closed**: `close()` ends the loop, closes the connection, and fails waiting calls.
 * @module
 */
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib'
import { TaskweaveError } from '../../core/errors.js'
import type { TransportHealth } from '../../core/transport.js'
import { within } from '../../core/within.js'
import type { AmqpModule } from './driver.js'
import { closedError, describeCause, rabbitError, replyCodeOf } from './errors.js'
import type { Scope } from './errors.js'
import type { ResolvedConnectionOptions } from './options.js'
import { settledWithin } from './bounded.js'

/** One live connection and the channels every user of it shares. */
export interface Session {
  /** Counts connections made: 1 for the first, 2 after the first reconnection… */
  readonly generation: number
  readonly model: ChannelModel
  /** The confirm channel every publish goes through, in order. */
  readonly publisher: ConfirmChannel
  /** A channel for declarations and checks that cannot fail on a healthy broker; made again if the broker closed it. */
  ops(): Promise<Channel>
  /** Runs `fn` on a channel of its own, closed afterwards: for operations that may fail (and so close their channel), such as checking a queue that may be gone. */
  scratch<R>(fn: (channel: Channel) => Promise<R>): Promise<R>
  /** Whether this connection has closed (a newer session may serve already). */
  readonly closed: boolean
}

/** Runs on every new connection before it serves: declares topology, starts consumers again. */
export type SessionHook = (session: Session) => Promise<void>

type Waiter = { readonly resolve: (session: Session) => void; readonly reject: (err: unknown) => void }

/**
 * AMQP reply codes the broker closes a channel with to answer an operation (content too large,
 * no route, no consumers, access refused, not found, resource locked, precondition failed): the
 * operation failed, the connection did not.
 */
const CHANNEL_ANSWERS = new Set([311, 312, 313, 403, 404, 405, 406])

/** A swallowed listener: amqplib emits `error` before `close`, and an `error` without a listener would crash the process. */
const ignore = (): void => {}

class LiveSession implements Session {
  closed = false
  /** Set while the broker blocks this connection's publishes (a resource alarm: `connection.blocked`). */
  blocked: { readonly reason: string; readonly at: number } | undefined
  #ops: Promise<Channel> | undefined

  constructor(
    readonly generation: number,
    readonly model: ChannelModel,
    readonly publisher: ConfirmChannel,
  ) {}

  ops(): Promise<Channel> {
    if (this.#ops === undefined) {
      const made = this.model.createChannel().then((channel) => {
        channel.on('error', ignore)
        channel.on('close', () => {
          if (this.#ops === made) this.#ops = undefined
        })
        return channel
      })
      made.catch(() => {
        if (this.#ops === made) this.#ops = undefined
      })
      this.#ops = made
    }
    return this.#ops
  }

  async scratch<R>(fn: (channel: Channel) => Promise<R>): Promise<R> {
    const channel = await this.model.createChannel()
    let open = true
    channel.on('error', ignore)
    channel.on('close', () => {
      open = false
    })
    try {
      return await fn(channel)
    } finally {
      if (open) await channel.close().catch(ignore)
    }
  }
}

/** A connection to one broker that reconnects by itself (see the module header). */
export class RabbitConnection {
  readonly #amqp: AmqpModule
  readonly #options: ResolvedConnectionOptions
  readonly #scope: Scope
  readonly #hooks: SessionHook[] = []
  readonly #readyListeners: ((session: Session) => void)[] = []
  #session: LiveSession | undefined
  #waiters: Waiter[] = []
  #generation = 0
  #closed = false
  #reconnecting = false
  #timer: NodeJS.Timeout | undefined
  #lastError: unknown
  /** When the connection last came up, went down or was unblocked. */
  #since = Date.now()

  constructor(amqp: AmqpModule, options: ResolvedConnectionOptions, scope: Scope) {
    this.#amqp = amqp
    this.#options = options
    this.#scope = scope
  }

  /** The broker's URL without password. */
  get location(): string {
    return this.#options.location
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed
  }

  /** The session serving now, if the connection is up. */
  get session(): Session | undefined {
    return this.#session
  }

  /** Whether the connection is up and may publish now, from its own events (no round trip). */
  health(): TransportHealth {
    const where = `${this.#scope.subject} at ${this.#scope.location}`
    if (this.#closed) return { ok: false, since: this.#since, problem: `${where}: the handle is closed` }
    const blocked = this.#session?.blocked
    if (this.#session === undefined) return { ok: false, since: this.#since, problem: `${where}: the broker cannot be reached${this.#lastError === undefined ? '' : ` (${describeCause(this.#lastError)})`}` }
    if (blocked !== undefined) return { ok: false, since: blocked.at, problem: `${where}: the broker blocks publishing: ${blocked.reason} (a resource alarm; publishing resumes when it clears)` }
    return { ok: true, since: this.#since }
  }

  /**
   * The error of a publish made while the broker blocks publishing, undefined when it does not.
   * Such a publish fails at once: the broker reads nothing from the connection until the alarm
   * clears, and messages sent meanwhile would pile up in memory.
   */
  blockedError(operation: string): TaskweaveError | undefined {
    const blocked = this.#session?.blocked
    if (blocked === undefined) return undefined
    return new TaskweaveError(this.#scope.code, `${this.#scope.subject} at ${this.#scope.location}: ${operation} refused: the broker blocks publishing (${blocked.reason}: a resource alarm). Try again once it clears`, {
      retryable: true,
      details: { location: this.#scope.location, operation, blocked: true, reason: blocked.reason, since: blocked.at },
    })
  }

  /**
   * The error of a publish that was sent and not confirmed within `timeoutMs` because the broker
   * blocked the connection meanwhile; undefined when it does not block. Unlike a refusal, what was
   * sent may still be taken when the alarm clears.
   */
  blockedTimeoutError(operation: string, timeoutMs: number): TaskweaveError | undefined {
    const blocked = this.#session?.blocked
    if (blocked === undefined) return undefined
    return new TaskweaveError(this.#scope.code, `${this.#scope.subject} at ${this.#scope.location}: ${operation} failed: the broker blocks publishing (${blocked.reason}: a resource alarm) and did not confirm within ${timeoutMs} ms; the messages may or may not be taken once it clears`, {
      retryable: true,
      details: { location: this.#scope.location, operation, blocked: true, reason: blocked.reason, since: blocked.at, timeoutMs, uncertain: true },
    })
  }

  /** Connects for the first time; rejects at once (within `connectTimeoutMs`) when the broker cannot be reached. */
  async open(): Promise<void> {
    try {
      await this.#connect()
    } catch (err) {
      if (TaskweaveError.is(err)) throw err
      throw rabbitError(this.#scope, 'connecting', err, { retryable: true })
    }
  }

  /**
   * Adds a hook run on every later connection, before it serves, in the order hooks were added;
   * when connected, runs it on the current session now (and resolves when it ran).
   */
  async addHook(hook: SessionHook): Promise<void> {
    this.#hooks.push(hook)
    if (this.#session !== undefined) await hook(this.#session)
  }

  /** Removes a hook added with {@link addHook}. */
  removeHook(hook: SessionHook): void {
    const at = this.#hooks.indexOf(hook)
    if (at >= 0) this.#hooks.splice(at, 1)
  }

  /** Calls `listener` each time a new connection starts serving (after the hooks ran). */
  onReady(listener: (session: Session) => void): void {
    this.#readyListeners.push(listener)
  }

  /**
   * The session, once the connection is up; rejects when it is not up again by `deadline`
   * (`performance.now()` ms: a wall-clock jump neither shortens nor lengthens the wait), naming
   * the URL and the last connection error, or when the connection is closed.
   */
  ready(deadline: number, operation: string): Promise<Session> {
    if (this.#closed) return Promise.reject(closedError(this.#scope, operation))
    if (this.#session !== undefined) return Promise.resolve(this.#session)
    return new Promise<Session>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter)
          reject(this.unreachableError(operation))
        },
        Math.max(0, deadline - performance.now()),
      )
      const waiter: Waiter = {
        resolve: (session) => {
          clearTimeout(timer)
          resolve(session)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
      this.#waiters.push(waiter)
    })
  }

  /**
   * Runs `fn` on the session, within `publishTimeoutMs`: when the connection goes while it runs
   * (the session was closing, a channel could not be opened on it), waits for the next connection
   * and runs it again. Errors the broker answered with (a missing queue, refused arguments) and
   * taskweave errors pass through at once. Unless `long`, `fn` itself must settle by the same
   * deadline.
   */
  async withSession<R>(operation: string, fn: (session: Session) => Promise<R>, options: { readonly long?: boolean } = {}): Promise<R> {
    const deadline = performance.now() + this.#options.publishTimeoutMs
    for (;;) {
      const session = await this.ready(deadline, operation)
      try {
        // A connection the broker stopped reading from (blocked by an alarm, or gone silent)
        // never answers: the call gives up at its deadline rather than wait with it. A long
        // operation (one message at a time through a backlog) is not cut off halfway: it would
        // go on behind the caller's back.
        if (options.long === true) return await fn(session)
        return await within(fn(session), deadline - performance.now(), () => this.blockedError(operation) ?? this.unreachableError(operation))
      } catch (err) {
        if (!session.closed && (TaskweaveError.is(err) || CHANNEL_ANSWERS.has(replyCodeOf(err) ?? 0))) throw err
        this.#lastError = err
        if (performance.now() >= deadline) throw this.unreachableError(operation)
        // The connection's close event may still be on its way: let it land, so ready() waits for the next one.
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    }
  }

  /** The error of an operation that gave up waiting for the connection to come back. */
  unreachableError(operation: string): TaskweaveError {
    const last = this.#lastError === undefined ? '' : ` (last error: ${describeCause(this.#lastError)})`
    return new TaskweaveError(this.#scope.code, `${this.#scope.subject} at ${this.#scope.location}: ${operation} failed: the broker could not be reached in time${last}`, {
      cause: this.#lastError,
      retryable: true,
      details: { location: this.#scope.location, operation },
    })
  }

  /** Drops the current connection and reconnects (after a channel every call needs failed). */
  recycle(session: Session, why: unknown): void {
    if (session !== this.#session) return
    this.#lastError = why
    this.#session.model.close().catch(ignore)
  }

  /** Ends the loop and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#since = Date.now()
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w.reject(closedError(this.#scope, 'waiting for the connection'))
    const session = this.#session
    this.#session = undefined
    if (session !== undefined) {
      session.closed = true
      // A silent broker never answers the close: past the bound, the socket is dropped.
      let answered = false
      await settledWithin(session.model.close().then(() => (answered = true)))
      if (!answered) (session.model as unknown as { readonly connection?: { readonly stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.()
    }
  }

  async #connect(): Promise<void> {
    const url = new URL(this.#options.url)
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(this.#options.heartbeatSeconds))
    const model = await this.#amqp.connect(url.toString(), {
      timeout: this.#options.connectTimeoutMs,
      // Frames go out at once. With Nagle's algorithm on (amqplib's default), a lone attempt or
      // report waited for the broker's delayed ACK of the previous one: 20 ms at the median under
      // a steady 500 attempts a second, against 1 ms on Redis.
      noDelay: true,
      clientProperties: { connection_name: this.#options.connectionName },
    })
    model.on('error', ignore)
    let session: LiveSession | undefined
    try {
      const publisher = await model.createConfirmChannel()
      publisher.on('error', ignore)
      session = new LiveSession(++this.#generation, model, publisher)
      const live = session
      model.on('close', (err?: Error) => this.#lost(live, err))
      model.on('blocked', (reason: unknown) => {
        live.blocked = { reason: typeof reason === 'string' && reason !== '' ? reason : 'no reason given', at: Date.now() }
      })
      model.on('unblocked', () => {
        if (live.blocked === undefined) return
        live.blocked = undefined
        if (this.#session === live) this.#since = Date.now()
      })
      // A publishing channel closed by the broker (a publish to an exchange that is gone) would
      // leave every publish waiting: start over on a new connection. Channels also close just
      // before their connection does; the next turn tells the two apart.
      publisher.on('close', () =>
        setImmediate(() => {
          if (!live.closed) this.recycle(live, new Error('the publishing channel was closed by the broker'))
        }),
      )
      // By index: a hook added while this runs (a consumer started meanwhile) runs here too.
      for (let i = 0; i < this.#hooks.length && !this.#closed && !session.closed; i++) await this.#hooks[i]?.(session)
      if (session.closed) throw this.#lastError ?? new Error('the connection closed while it was being set up')
    } catch (err) {
      if (session !== undefined) session.closed = true
      await model.close().catch(ignore)
      throw err
    }
    if (this.#closed) {
      session.closed = true
      await model.close().catch(ignore)
      throw closedError(this.#scope, 'connecting')
    }
    this.#session = session
    this.#lastError = undefined
    this.#since = Date.now()
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w.resolve(session)
    for (const listener of this.#readyListeners) listener(session)
  }

  #lost(session: LiveSession, err: Error | undefined): void {
    session.closed = true
    if (this.#session !== session) return
    this.#session = undefined
    this.#since = Date.now()
    if (err !== undefined) this.#lastError = err
    if (!this.#closed) this.#scheduleReconnect(this.#options.reconnectDelayMs)
  }

  #scheduleReconnect(delayMs: number): void {
    if (this.#reconnecting || this.#closed) return
    this.#reconnecting = true
    const jittered = Math.round(delayMs * (0.8 + Math.random() * 0.4))
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#connect().then(
        () => {
          this.#reconnecting = false
        },
        (err: unknown) => {
          this.#reconnecting = false
          this.#lastError = err
          this.#scheduleReconnect(Math.min(this.#options.maxReconnectDelayMs, delayMs * 2))
        },
      )
    }, jittered)
  }
}
