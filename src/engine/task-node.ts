/** The mutable state of one task inside a run (workflow task, forEach item or added task). @module */
import type { CancelTimer } from '../core/clock.js'
import type { SerializedError } from '../core/errors.js'
import type { CompiledTask } from '../workflow/compile.js'
import type { AttemptRecord } from './report.js'
import type { TaskStatus } from './states.js'

/** State most tasks never need (errors, timers, fan-out, added tasks): allocated on first use. */
class NodeExtra {
  error: SerializedError | undefined = undefined
  reason: string | undefined = undefined
  rootFailure = -1
  blocked: string[] | undefined = undefined
  failedAttempts: AttemptRecord[] | undefined = undefined
  controller: AbortController | undefined = undefined
  timer: CancelTimer | undefined = undefined
  retryTimer: CancelTimer | undefined = undefined
  ownsChildren = false
  item: unknown = undefined
  itemIndex = 0
  hasItem = false
  forEachOwner = -1
  pendingItems = 0
  items: number[] | undefined = undefined
  addedBy: string | undefined = undefined
}

/**
 * Per-task run state. A run of 100,000 tasks holds 100,000 of these for its whole life, so the
 * object keeps only what every task uses; the rest lives in a {@link NodeExtra} made on demand
 * (reading a rare field of a node without one gives its default).
 */
export class TaskNode {
  status: TaskStatus = 'pending'
  /** Parents not yet terminal. */
  waiting = 0
  attempts = 0
  /** Incremented per attempt and on cancel: a result carrying an older token is stale. */
  token = 0
  output: unknown = undefined
  firstStartedAt = -1
  attemptStartedAt = -1
  finishedAt = -1
  /** Shared with the compiled task until a task added at run time needs its own copy. */
  children: readonly number[]
  #x: NodeExtra | undefined = undefined

  constructor(
    readonly index: number,
    readonly id: string,
    readonly task: CompiledTask,
    readonly parents: readonly number[],
    children: readonly number[],
  ) {
    this.children = children
  }

  #extra(): NodeExtra {
    return (this.#x ??= new NodeExtra())
  }

  /** Adds a child (a task added at run time), copying the shared list first. */
  addChild(child: number): void {
    const x = this.#extra()
    if (!x.ownsChildren) {
      this.children = [...this.children]
      x.ownsChildren = true
    }
    ;(this.children as number[]).push(child)
  }

  get error(): SerializedError | undefined {
    return this.#x?.error
  }
  set error(value: SerializedError | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().error = value
  }
  get reason(): string | undefined {
    return this.#x?.reason
  }
  set reason(value: string | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().reason = value
  }
  /** The failed task that caused this skip, or -1 (a condition, not a failure). */
  get rootFailure(): number {
    return this.#x?.rootFailure ?? -1
  }
  set rootFailure(value: number) {
    if (value !== -1 || this.#x !== undefined) this.#extra().rootFailure = value
  }
  get blocked(): string[] | undefined {
    return this.#x?.blocked
  }
  set blocked(value: string[] | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().blocked = value
  }
  get failedAttempts(): AttemptRecord[] | undefined {
    return this.#x?.failedAttempts
  }
  set failedAttempts(value: AttemptRecord[] | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().failedAttempts = value
  }
  get controller(): AbortController | undefined {
    return this.#x?.controller
  }
  set controller(value: AbortController | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().controller = value
  }
  get timer(): CancelTimer | undefined {
    return this.#x?.timer
  }
  set timer(value: CancelTimer | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().timer = value
  }
  get retryTimer(): CancelTimer | undefined {
    return this.#x?.retryTimer
  }
  set retryTimer(value: CancelTimer | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().retryTimer = value
  }
  get item(): unknown {
    return this.#x?.item
  }
  set item(value: unknown) {
    this.#extra().item = value
  }
  get itemIndex(): number {
    return this.#x?.itemIndex ?? 0
  }
  set itemIndex(value: number) {
    this.#extra().itemIndex = value
  }
  get hasItem(): boolean {
    return this.#x?.hasItem ?? false
  }
  set hasItem(value: boolean) {
    if (value || this.#x !== undefined) this.#extra().hasItem = value
  }
  /** Index of the forEach task this item belongs to, or -1. */
  get forEachOwner(): number {
    return this.#x?.forEachOwner ?? -1
  }
  set forEachOwner(value: number) {
    if (value !== -1 || this.#x !== undefined) this.#extra().forEachOwner = value
  }
  get pendingItems(): number {
    return this.#x?.pendingItems ?? 0
  }
  set pendingItems(value: number) {
    this.#extra().pendingItems = value
  }
  get items(): number[] | undefined {
    return this.#x?.items
  }
  set items(value: number[] | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().items = value
  }
  get addedBy(): string | undefined {
    return this.#x?.addedBy
  }
  set addedBy(value: string | undefined) {
    if (value !== undefined || this.#x !== undefined) this.#extra().addedBy = value
  }
}
