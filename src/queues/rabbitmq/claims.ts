/**
 * The attempts this handle's workers claimed: acknowledged while they still run (see
 * `claimAfterMs` and `consumer.ts`), so the broker no longer holds them and only their worker's
 * word says they are held. A worker lists its claims in every heartbeat (`WorkerInfo.claimed`);
 * a claim is announced at once, before its delivery is acknowledged, so no handle sees the
 * attempt leave the queue without seeing it claimed first. `holds()` anywhere counts an attempt
 * held while a worker that lists it keeps announcing itself (`WorkerRegistry.claimedByLive`).
 * @module
 */
import type { WorkerInfo } from '../../core/transport.js'
import type { WorkerRegistry } from './registry.js'

/** The claims of one transport handle's workers (see the module header). */
export class Claims {
  readonly #registry: WorkerRegistry
  /**
   * Per worker, its claimed attempts and how many of its deliveries claim each: after a blip the
   * broker may deliver an attempt again to the worker that still runs it, and the end of one
   * delivery's claim must not end the other's.
   */
  readonly #byWorker = new Map<string, Map<string, number>>()
  /** What each worker last announced through this handle, to announce a new claim with. */
  readonly #lastInfo = new Map<string, WorkerInfo>()

  readonly #claiming: boolean

  /** @param claiming whether this handle's workers claim (`claimAfterMs` > 0): their heartbeats say so */
  constructor(registry: WorkerRegistry, claiming: boolean) {
    this.#registry = registry
    this.#claiming = claiming
  }

  /** `info` as it is announced: with the worker's claims. */
  withClaims(info: WorkerInfo): WorkerInfo {
    this.#lastInfo.set(info.worker, info)
    const claimed = this.#byWorker.get(info.worker)
    // Said while it drains, when owners need to know that what it runs is claimed.
    const marked = this.#claiming && info.draining === true ? { ...info, claims: true } : info
    return claimed === undefined || claimed.size === 0 ? marked : { ...marked, claimed: [...claimed.keys()] }
  }

  /**
   * Adds a claim and announces the worker with it; resolves once the broker took the heartbeat.
   * `fallback`: the worker's info when it never announced itself through this handle.
   */
  async add(worker: string, attemptId: string, fallback: () => WorkerInfo): Promise<void> {
    let claimed = this.#byWorker.get(worker)
    if (claimed === undefined) this.#byWorker.set(worker, (claimed = new Map<string, number>()))
    claimed.set(attemptId, (claimed.get(attemptId) ?? 0) + 1)
    const info = this.#lastInfo.get(worker) ?? fallback()
    try {
      await this.#registry.announce({ ...this.withClaims(info), at: Date.now() })
    } catch (err) {
      this.delete(worker, attemptId)
      throw err
    }
  }

  /** Drops one claim made by {@link add}: once none is left, the worker's next heartbeat no longer lists the attempt. */
  delete(worker: string, attemptId: string): void {
    const claimed = this.#byWorker.get(worker)
    const count = claimed?.get(attemptId)
    if (claimed === undefined || count === undefined) return
    if (count > 1) claimed.set(attemptId, count - 1)
    else claimed.delete(attemptId)
    if (claimed.size === 0) this.#byWorker.delete(worker)
  }
}
