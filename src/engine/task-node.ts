/** The mutable state of one task inside a run (workflow task, forEach item or added task). @module */
import type { CancelTimer } from '../core/clock.js'
import type { SerializedError } from '../core/errors.js'
import type { CompiledTask } from '../workflow/compile.js'
import type { AttemptRecord } from './report.js'
import type { TaskStatus } from './states.js'

/** Per-task run state. Fields are all declared up front so every node has one shape. */
export class TaskNode {
  status: TaskStatus = 'pending'
  /** Parents not yet terminal. */
  waiting = 0
  attempts = 0
  /** Incremented per attempt and on cancel: a result carrying an older token is stale. */
  token = 0
  output: unknown = undefined
  error: SerializedError | undefined = undefined
  firstStartedAt = -1
  attemptStartedAt = -1
  finishedAt = -1
  reason: string | undefined = undefined
  /** The failed task that caused this skip, or -1 (a condition, not a failure). */
  rootFailure = -1
  blocked: string[] | undefined = undefined
  failedAttempts: AttemptRecord[] | undefined = undefined
  controller: AbortController | undefined = undefined
  timer: CancelTimer | undefined = undefined
  retryTimer: CancelTimer | undefined = undefined
  /** Shared with the compiled task until a task added at run time needs its own copy. */
  children: readonly number[]
  ownsChildren = false
  item: unknown = undefined
  itemIndex = 0
  hasItem = false
  forEachOwner = -1
  pendingItems = 0
  items: number[] | undefined = undefined
  addedBy: string | undefined = undefined

  constructor(
    readonly index: number,
    readonly id: string,
    readonly task: CompiledTask,
    readonly parents: readonly number[],
    children: readonly number[],
  ) {
    this.children = children
  }

  /** Adds a child (a task added at run time), copying the shared list first. */
  addChild(child: number): void {
    if (!this.ownsChildren) {
      this.children = [...this.children]
      this.ownsChildren = true
    }
    ;(this.children as number[]).push(child)
  }
}
