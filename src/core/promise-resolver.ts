/**
 * A promise and its resolver without a closure per promise. `new Promise((resolve) => (x = resolve))`
 * makes an arrow function, and its enclosing function a context for what the arrow reads, on
 * every call; hot paths (a run's result, a background task's outcome) instead pass the one shared
 * executor below, which `new Promise` calls synchronously, and take the resolver it kept.
 * @module
 */

/** The resolver {@link keepResolver} was last handed, read once by {@link takeResolver}. */
let lastResolver: ((value: never) => void) | undefined

/** A promise executor that keeps the resolver it is handed (see the module comment). */
export function keepResolver(resolve: (value: never) => void): void {
  lastResolver = resolve
}

/** The resolver of the promise made last with {@link keepResolver}: call it right after `new Promise(keepResolver)`. */
export function takeResolver<T>(): (value: T) => void {
  const resolve = lastResolver as (value: T) => void
  lastResolver = undefined
  return resolve
}
