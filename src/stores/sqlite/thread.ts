/**
 * The caller's side of the database thread: posts each call with an id and settles its promise
 * when the answer with that id comes back. The thread answers in order, one call at a time.
 *
 * The thread keeps the process alive only while a call (or the open, or the close) is waiting
 * for it, like a socket with a request in flight; an idle store does not hold a finished program
 * open.
 *
 * If the thread dies (terminated, crashed), every waiting call rejects with `TW_STORE` at once
 * and so does every later one: nothing waits for an answer that cannot come. A write that was
 * waiting may or may not have been committed; the message says so.
 * @module
 */
import type { Worker } from 'node:worker_threads'
import { deserializeError } from '../../core/errors.js'
import type { TaskweaveError } from '../../core/errors.js'
import { describeThrown } from '../../core/thrown.js'
import { closedError, storeError } from './errors.js'
import type { CallName, ThreadCalls, ThreadData, ThreadMessage } from './protocol.js'
import { spawnThread } from './spawn.js'

interface Waiting {
  readonly resolve: (value: unknown) => void
  readonly reject: (err: unknown) => void
}

/** What the thread said when it opened the file. */
export interface OpenedInfo {
  /** The SQLite library's version (`sqlite_version()`). */
  readonly sqliteVersion: string
  /** The file's schema version (`user_version`) after migration. */
  readonly schemaVersion: number
}

/** A running database thread with its file open. */
export class SqliteThread {
  /** The file as the caller named it. */
  readonly location: string
  readonly #worker: Worker
  readonly #waiting = new Map<number, Waiting>()
  readonly #exited: Promise<void>
  #nextId = 1
  #opening: Waiting | undefined
  #info: OpenedInfo | undefined
  /** Set once calls can no longer be served: says why, as a fresh error for each refused call. */
  #refusal: (() => TaskweaveError) | undefined
  /** The thread's uncaught error, if it crashed. */
  #crash: unknown

  private constructor(worker: Worker, location: string) {
    this.#worker = worker
    this.location = location
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()))
    worker.on('message', (message: ThreadMessage) => this.#receive(message))
    worker.on('error', (err) => {
      this.#crash = err
    })
    // An answer that cannot be read: the call it belongs to is unknown, so the thread is stopped
    // and every waiting call fails rather than waiting for ever.
    worker.on('messageerror', (err) => {
      this.#crash = err
      void this.terminate()
    })
    worker.once('exit', (code) => this.#stopped(code))
  }

  /**
   * Starts a thread and waits until it has opened `data.file`. Rejects with the thread's
   * `TW_STORE` error when the file cannot be opened, or with `signal.reason` as soon as `signal`
   * aborts (the thread is then terminated).
   */
  static start(data: ThreadData, signal?: AbortSignal): Promise<SqliteThread> {
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    const thread = new SqliteThread(spawnThread(data), data.location)
    return new Promise<SqliteThread>((resolve, reject) => {
      const onAbort = (): void => {
        thread.#opening = undefined
        reject(signal?.reason)
        void thread.terminate()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      thread.#opening = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(thread)
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        },
      }
    })
  }

  /** What the thread reported at open. */
  get info(): OpenedInfo {
    if (this.#info === undefined) throw new Error('the SQLite thread has not opened its file')
    return this.#info
  }

  /** Runs `name` on the thread; rejects with `TW_STORE` if the thread is closed or gone. */
  call<N extends CallName>(name: N, ...args: ThreadCalls[N]['args']): Promise<ThreadCalls[N]['result']> {
    if (this.#refusal !== undefined) return Promise.reject(this.#refusal())
    const id = this.#nextId++
    return new Promise<ThreadCalls[N]['result']>((resolve, reject) => {
      try {
        this.#worker.postMessage({ id, name, args })
      } catch (err) {
        reject(storeError(this.location, `cannot send ${name} to the database thread: ${describeThrown(err)}`, { retryable: false, cause: err }))
        return
      }
      if (this.#waiting.size === 0) this.#worker.ref()
      this.#waiting.set(id, { resolve: resolve as (value: unknown) => void, reject })
    })
  }

  /**
   * Closes the connection after the calls already posted, then waits for the thread to end.
   * Later calls are refused at once. Resolves also when the thread is already gone.
   */
  async close(): Promise<void> {
    if (this.#refusal === undefined) {
      const closing = this.call('close')
      this.#refusal = () => closedError(this.location)
      // Held until the thread has ended, so `await store.close()` returns before the program does.
      this.#worker.ref()
      try {
        await closing
      } finally {
        await this.#exited
      }
    }
    await this.#exited
  }

  /** Stops the thread now, without closing the connection properly; waiting calls reject. */
  async terminate(): Promise<void> {
    await this.#worker.terminate()
    await this.#exited
  }

  #receive(message: ThreadMessage): void {
    if (message.type === 'opened') {
      this.#info = { sqliteVersion: message.sqliteVersion, schemaVersion: message.schemaVersion }
      this.#worker.unref()
      this.#opening?.resolve(undefined)
      this.#opening = undefined
      return
    }
    if (message.type === 'failed') {
      this.#refusal = () => closedError(this.location)
      this.#opening?.reject(deserializeError(message.error))
      this.#opening = undefined
      return
    }
    const waiting = this.#waiting.get(message.id)
    if (waiting === undefined) return
    this.#waiting.delete(message.id)
    if (this.#waiting.size === 0 && this.#refusal === undefined) this.#worker.unref()
    if (message.ok) waiting.resolve(message.value)
    else waiting.reject(deserializeError(message.error))
  }

  #stopped(exitCode: number): void {
    const crash = this.#crash
    const why = `the database thread stopped (exit code ${exitCode}${crash === undefined ? '' : `: ${describeThrown(crash)}`})`
    const failure = (): TaskweaveError => storeError(this.location, `${why}; a write it had not answered may or may not be committed`, crash === undefined ? {} : { cause: crash })
    this.#refusal ??= () => storeError(this.location, why, crash === undefined ? {} : { cause: crash })
    for (const waiting of this.#waiting.values()) waiting.reject(failure())
    this.#waiting.clear()
    this.#opening?.reject(storeError(this.location, `${why} before it opened the file`, crash === undefined ? {} : { cause: crash }))
    this.#opening = undefined
  }
}
