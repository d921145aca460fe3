/**
 * Values returned by user code (a tool, a handler, a listener) that may or may not be promises.
 * `typeof value?.then === 'function'` is not safe on them: a `then` getter can throw, a revoked
 * Proxy throws on any read, and a second read of `then` may give another function than the first.
 * Uncaught, the throw escapes the engine's own call stack and kills the process. So `then` is read
 * exactly once, inside a `try`, and a thenable is adopted the way `await` adopts it: its handlers
 * run at most once, and a `then` that throws rejects instead.
 *
 * An async function returning the same value already behaves this way (the read of `then` happens
 * inside the promise machinery), so with this helper a synchronous tool and an async one fail
 * alike, with the error the getter threw.
 * @module
 */

/** Compared by identity only, never called unbound. */
const NATIVE_THEN: unknown = Reflect.get(Promise.prototype, 'then')

/**
 * True when `value` has a callable `then`. Never throws: a `then` that cannot be read counts as
 * not promise-like (use {@link whenSettled} to also learn that it could not be read).
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  try {
    return typeof (value as { then?: unknown }).then === 'function'
  } catch {
    return false
  }
}

/**
 * Calls `onValue` with `value`, or, when `value` is a thenable, with what it resolves to; calls
 * `onError` when it rejects, when its `then` throws, or when `then` cannot even be read (the error
 * to record for the work that returned it). Exactly one of the two is called, once. A plain value
 * is delivered synchronously, with no allocation, so callers can use it on hot paths.
 */
export function whenSettled(value: unknown, onValue: (value: unknown) => void, onError: (error: unknown) => void): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return onValue(value)
  let then: unknown
  try {
    then = (value as { then?: unknown }).then
  } catch (err) {
    return onError(err)
  }
  if (typeof then !== 'function') return onValue(value)
  if (then === NATIVE_THEN && isNativePromise(value)) {
    try {
      void value.then(onValue, onError)
    } catch (err) {
      onError(err) // a Proxy around a promise: the native `then` refuses it as receiver, synchronously
    }
    return
  }
  // A foreign thenable: the Promise constructor gives the once-only guard and turns a throwing
  // `then` into a rejection; the `then` already read is the one called.
  const adopted = new Promise<unknown>((resolve, reject) => {
    Reflect.apply(then as (...args: unknown[]) => unknown, value, [resolve, reject])
  })
  void adopted.then(onValue, onError)
}

/** `value instanceof Promise`, false when asking throws (a Proxy with a throwing `getPrototypeOf` trap). */
function isNativePromise(value: object): value is Promise<unknown> {
  try {
    return value instanceof Promise
  } catch {
    return false
  }
}
