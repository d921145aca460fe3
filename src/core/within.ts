/** A promise with a time limit. @module */

/**
 * `promise`, or `late()` thrown after `ms` if it has not settled by then. The promise itself goes
 * on (nothing here can stop it); its later rejection is handled.
 */
export function within<T>(promise: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(late()), Math.max(0, ms))
    }),
  ]).finally(() => clearTimeout(timer))
}
