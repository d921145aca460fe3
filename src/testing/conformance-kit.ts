/**
 * What the queue and transport conformance suites share: real-time waits (they run against real
 * brokers, so no manual clock), polling for a state a broker reaches asynchronously, gates that
 * hold a handler until the case lets it go, and names unique to a case, so cases can share a
 * broker with each other and with other test runs.
 * @module
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'

/** Longest wait for something that must happen (a delivery, a count). */
export const WAIT_MS = 3000
/** How long "nothing more arrives" is watched for. */
export const QUIET_MS = 150
/** Slack for timer granularity and clocks that differ slightly (a broker's, the test's). */
export const TOLERANCE_MS = 25

/** One case of a conformance suite: throws (node:assert) when the adapter breaks a guarantee. */
export interface ConformanceCase {
  readonly name: string
  readonly run: () => Promise<void>
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` until it is true; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(10)
  }
}

/** Runs `assertion` until it passes; after `timeoutMs`, throws its last failure. */
export async function eventually(assertion: () => void | Promise<void>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await assertion()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
    }
    await sleep(10)
  }
}

/** A promise the case resolves when it chooses: holds a handler while the case looks at the queue. */
export interface Gate {
  readonly promise: Promise<void>
  open(): void
}

/** A closed {@link Gate}. */
export function gate(): Gate {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

/** A prefix unique to one run of one case: `<prefix>-<random>-<slug of the case name>`, at most 60 characters. */
export function uniquePrefix(prefix: string, caseName: string): string {
  const slug = caseName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40)
    .replace(/-$/, '')
  return `${prefix}-${randomBytes(4).toString('hex')}-${slug}`
}

/** Asserts that `promise` rejects with an error whose `code` is `code`. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: unknown } | null)?.code, code, `expected an error with code ${code}`)
    return true
  })
}

/** Counts handlers running at once: call `enter` when one starts and the returned function when it ends. */
export class Overlap {
  #now = 0
  #max = 0

  /** The most that ran at once. */
  get max(): number {
    return this.#max
  }

  enter(): () => void {
    this.#now++
    this.#max = Math.max(this.#max, this.#now)
    return () => {
      this.#now--
    }
  }
}
