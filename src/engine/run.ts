/**
 * One run of a compiled workflow: the scheduler loop.
 *
 * Tasks wait (`pending`) until every parent is terminal; then the trigger rule and the `when`
 * condition decide between `ready` and `skipped`, and skips propagate along the same rules.
 * Ready tasks sit in a heap ordered by priority, critical path, then FIFO, and start while the
 * run's limit, the engine's global slots and their group's limit allow. An attempt's result is
 * accepted only if the attempt still holds its token (a timed-out or cancelled attempt that
 * finishes late is ignored), so a task never completes twice.
 *
 * Modes: running → (cancel() or failFast) cancelling → finished. Once cancelling, nothing new
 * starts, running attempts are aborted through their signals and every unfinished task is marked
 * cancelled with the reason.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Clock } from '../core/clock.js'
import { CancelledError, serializeError, TaskweaveError, TimeoutError } from '../core/errors.js'
import type { SerializedError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { ToolRegistry } from '../core/registry.js'
import type { ToolProgress } from '../core/tool.js'
import type { EventEmitter } from '../observe/emitter.js'
import type { EventMap, EventName } from '../observe/events.js'
import { ReadyQueue } from '../scheduler/ready-queue.js'
import { backoffDelayMs, retryAfterHintMs, shouldRetry } from '../scheduler/retry.js'
import type { SlotPool, SlotWaiter } from '../scheduler/slots.js'
import { NO_TASKS } from '../workflow/compile.js'
import { compileAddedTask } from './added-task.js'
import { triggerVerdict } from './trigger-rules.js'
import type { CompiledTask, CompiledWorkflow } from '../workflow/compile.js'
import { criticalPathRanks } from '../workflow/dag.js'
import type { TemplateScope } from '../workflow/template.js'
import type { TaskSpec } from '../workflow/types.js'
import { toPlainData } from './plain-data.js'
import type { RunResult } from './report.js'
import { buildRunResult } from './run-report.js'
import { TaskNode } from './task-node.js'
import { AttemptContext } from './attempt-context.js'
import type { AttemptHost } from './attempt-context.js'
import { assertTransition, isTerminal } from './states.js'
import type { RunStatus, TaskStatus } from './states.js'
import type { ToolStats } from './tool-stats.js'

/** What a completion handler receives. */
export interface TaskCompletion {
  readonly runId: string
  readonly taskId: string
  readonly status: TaskStatus
  readonly output: unknown
  readonly error?: SerializedError
}

/** Lets a completion handler grow the running workflow. */
export interface RunControl {
  readonly runId: string
  /** Adds a task; throws `TW_VALIDATION` naming the problem (unknown tool, unknown dependency…). */
  addTask(task: TaskSpec): void
}

/** Called when a task reaches a final state; may add tasks. */
export type TaskCompleteHandler = (completion: TaskCompletion, run: RunControl) => void | Promise<void>

/** Settings of one run, resolved by the engine. */
export interface RunSettings {
  readonly runId?: string
  readonly inputs: Readonly<Record<string, unknown>>
  readonly concurrency: number
  readonly failFast: boolean
  readonly signal?: AbortSignal
  readonly onTaskComplete?: TaskCompleteHandler | Readonly<Record<string, TaskCompleteHandler>>
}

/** What a run borrows from its engine. */
export interface RunEnvironment {
  readonly clock: Clock
  readonly random: () => number
  readonly logger: Logger
  readonly registry: ToolRegistry
  readonly slots: SlotPool
  readonly events: EventEmitter
  readonly toolStats: ToolStats
  readonly maxOutputBytes: number
  readonly maxForEachItems: number
}

const NO_ITEM_SCOPE = { hasItem: false } as const

/** Executes one run. Create through the engine. */
export class RunExecution implements SlotWaiter, AttemptHost {
  readonly id: string
  readonly result: Promise<RunResult>
  readonly #workflow: CompiledWorkflow
  readonly #env: RunEnvironment
  readonly #settings: RunSettings
  readonly #events: EventEmitter
  readonly #nodes: TaskNode[] = []
  /** Ids of nodes not in the compiled workflow (forEach items, added tasks). */
  readonly #extraIds = new Map<string, number>()
  /** Work stack of #settle, reused across calls (and nested calls) to avoid an allocation per task. */
  readonly #settleStack: TaskNode[] = []
  /**
   * Ready-queue keys per node, in typed arrays (no per-task heap objects for the collector to trace).
   * The queues read them through this object, so growing an array (tasks added at run time) only
   * replaces the property.
   */
  readonly #keys: { priority: Int32Array; rank: Float64Array; seq: Float64Array }
  readonly #queue: ReadyQueue
  readonly #groupQueues = new Map<string, ReadyQueue>()
  readonly #groupRunning = new Map<string, number>()
  readonly #runSignal: AbortController = new AbortController()
  #resolve!: (result: RunResult) => void
  #nextSeq = 0
  #running = 0
  #settled = 0
  #pendingHandlers = 0
  #pumping = false
  #state: 'idle' | 'running' | 'cancelling' | 'finished' = 'idle'
  #stopStatus: RunStatus | undefined
  #stopReason: string | undefined
  #startedAt: number
  #startedWall: string
  /** Slots granted by the engine's pool and not yet used by the dispatch loop. */
  #granted = 0
  /** Depth of event delivery in progress (listeners may call back into the run). */
  #emitting = 0
  /** Ids of tasks that tools added during attempts still running (reserved until the attempt ends). */
  readonly #reservedIds = new Map<string, TaskNode>()
  #unhookSignal: (() => void) | undefined

  constructor(workflow: CompiledWorkflow, env: RunEnvironment, settings: RunSettings, events: EventEmitter) {
    this.id = settings.runId ?? randomUUID()
    this.#workflow = workflow
    this.#env = env
    this.#settings = settings
    this.#events = events
    const capacity = Math.max(16, workflow.tasks.length)
    this.#keys = { priority: new Int32Array(capacity), rank: new Float64Array(capacity), seq: new Float64Array(capacity) }
    this.#queue = new ReadyQueue(this.#keys)
    this.result = new Promise<RunResult>((resolve) => (this.#resolve = resolve))
    // Set here too, so a run cancelled before it starts still reports sensible times.
    this.#startedAt = env.clock.now()
    this.#startedWall = new Date().toISOString()
    const tasks = workflow.tasks
    for (const task of tasks) this.#addNode(task.id, task, task.parents, task.children, true)
    const order = workflow.order
    const toolCost = new Map<string, number>()
    const cost = (i: number): number => {
      const task = tasks[i] as CompiledTask
      if (task.cost !== undefined) return task.cost
      let c = toolCost.get(task.toolName)
      if (c === undefined) toolCost.set(task.toolName, (c = this.#costOf(task)))
      return c
    }
    const ranks = criticalPathRanks(order, (i) => (tasks[i] as CompiledTask).children, cost)
    this.#keys.rank.set(ranks)
  }

  /** Current status of a task, or undefined when there is no such task. */
  taskStatus(taskId: string): TaskStatus | undefined {
    const index = this.#indexOf(taskId)
    return index === undefined ? undefined : this.#nodes[index]?.status
  }

  #indexOf(id: string): number | undefined {
    return this.#workflow.indexById.get(id) ?? this.#extraIds.get(id)
  }

  /** Whether the run has ended. */
  get isFinished(): boolean {
    return this.#state === 'finished'
  }

  /** Starts the run (called once by the engine). */
  start(): void {
    if (this.#state !== 'idle') return
    this.#state = 'running'
    this.#startedAt = this.#env.clock.now()
    this.#startedWall = new Date().toISOString()
    const signal = this.#settings.signal
    if (signal !== undefined) {
      const onAbort = (): void => this.cancel(reasonText(signal.reason) ?? 'the run was aborted')
      if (signal.aborted) {
        this.#emit('run:started', { workflowId: this.#workflow.id, taskCount: this.#nodes.length })
        this.cancel(reasonText(signal.reason) ?? 'the run was aborted')
        return
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#unhookSignal = () => signal.removeEventListener('abort', onAbort)
    }
    if (this.#events.wants('run:started')) this.#emit('run:started', { workflowId: this.#workflow.id, taskCount: this.#nodes.length })
    const roots: TaskNode[] = []
    for (const node of this.#nodes) if (node.waiting === 0) roots.push(node)
    for (const node of roots) if (this.#evaluate(node)) this.#settle(node)
    this.#pump()
    this.#maybeFinish()
  }

  /**
   * Cancels the run: nothing new starts, running attempts are aborted, the result says `cancelled`.
   * Called from an event listener, it takes effect right after the transition being reported,
   * never in the middle of it.
   */
  cancel(reason = 'the run was cancelled'): void {
    if (this.#emitting > 0) queueMicrotask(() => this.#stop('cancelled', reason))
    else this.#stop('cancelled', reason)
  }

  /** Called by the slot pool with a slot this run now holds; false hands it back unused. */
  grant(): boolean {
    this.#granted++
    this.#pump()
    const unused = this.#granted
    this.#granted = 0
    return unused === 0
  }

  // ---------------------------------------------------------------- graph

  #addNode(id: string, task: CompiledTask, parents: readonly number[], children: readonly number[], compiled = false): TaskNode {
    const index = this.#nodes.length
    const node = new TaskNode(index, id, task, parents, children)
    if (compiled) node.waiting = parents.length
    else {
      let waiting = 0
      for (const p of parents) if (!isTerminal(this.#nodes[p]?.status ?? 'pending')) waiting++
      node.waiting = waiting
      this.#extraIds.set(id, index)
    }
    this.#nodes.push(node)
    const keys = this.#keys
    if (index >= keys.priority.length) {
      const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
        const next = make(old.length * 2)
        next.set(old)
        return next
      }
      keys.priority = grow(keys.priority, (n) => new Int32Array(n))
      keys.rank = grow(keys.rank, (n) => new Float64Array(n))
      keys.seq = grow(keys.seq, (n) => new Float64Array(n))
    }
    keys.priority[index] = task.priority
    return node
  }

  #costOf(task: CompiledTask): number {
    return task.cost ?? this.#env.toolStats.meanMs(task.toolName) ?? 1
  }

  /**
   * Decides a task whose parents are all terminal: skipped, failed (condition or forEach error),
   * expanded (forEach) or ready. Returns true when the task became terminal right here.
   */
  #evaluate(node: TaskNode): boolean {
    if (this.#state !== 'running') return false
    const verdict = triggerVerdict(node, this.#nodes)
    if (verdict !== undefined) {
      this.#skip(node, verdict.reason, verdict.root)
      return true
    }
    const task = node.task
    if (task.when !== undefined) {
      let holds: boolean
      try {
        holds = task.when.evaluate(this.#conditionScope(task.when.taskRefs))
      } catch (err) {
        this.#failWithoutAttempt(node, err)
        return true
      }
      if (!holds) {
        this.#skip(node, `condition is false: ${task.when.source}`, -1)
        return true
      }
    }
    if (task.forEach !== undefined) return this.#expandForEach(node)
    this.#makeReady(node)
    return false
  }

  #conditionScope(taskRefs: readonly string[]): Record<string, unknown> {
    const tasks = Object.create(null) as Record<string, unknown>
    for (const id of taskRefs) {
      const index = this.#indexOf(id)
      const node = index === undefined ? undefined : this.#nodes[index]
      if (node !== undefined) tasks[id] = node.status === 'succeeded' && node.output !== undefined ? { status: node.status, output: node.output } : { status: node.status }
    }
    return { inputs: this.#settings.inputs, tasks }
  }

  #scope(node: TaskNode): TemplateScope {
    const lookup = (id: string): { status: string; output: unknown } | undefined => {
      const index = this.#indexOf(id)
      const target = index === undefined ? undefined : this.#nodes[index]
      return target === undefined ? undefined : { status: target.status, output: target.output }
    }
    return node.hasItem
      ? { inputs: this.#settings.inputs, task: lookup, item: node.item, index: node.itemIndex, hasItem: true }
      : { inputs: this.#settings.inputs, task: lookup, ...NO_ITEM_SCOPE }
  }

  #expandForEach(owner: TaskNode): boolean {
    const task = owner.task
    let list: unknown
    try {
      list = task.forEach?.resolve(this.#scope(owner))
    } catch (err) {
      this.#failWithoutAttempt(owner, err)
      return true
    }
    if (!Array.isArray(list)) {
      this.#failWithoutAttempt(owner, new TaskweaveError('TW_FOR_EACH', `forEach of task "${owner.id}" must give a list; it gave ${list === null ? 'null' : typeof list}`, { retryable: false }))
      return true
    }
    if (list.length > this.#env.maxForEachItems) {
      this.#failWithoutAttempt(owner, new TaskweaveError('TW_FOR_EACH', `forEach of task "${owner.id}" gave ${list.length} items; the limit is ${this.#env.maxForEachItems}`, { retryable: false }))
      return true
    }
    this.#transition(owner, 'running')
    owner.firstStartedAt = this.#env.clock.now()
    if (list.length === 0) {
      owner.output = []
      this.#transition(owner, 'succeeded')
      owner.finishedAt = owner.firstStartedAt
      if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: owner.id, attempt: 0, durationMs: 0 })
      this.#afterTerminal(owner)
      return true
    }
    const itemTask: CompiledTask = { ...task, forEach: undefined }
    const rank = this.#keys.rank[owner.index] as number
    owner.items = []
    owner.pendingItems = list.length
    // Every item is made ready before any is reported, so a listener that cancels the run sees
    // (and cancels) all of them.
    for (let i = 0; i < list.length; i++) {
      const child = this.#addNode(`${owner.id}[${i}]`, itemTask, NO_TASKS, NO_TASKS)
      child.item = list[i]
      child.itemIndex = i
      child.hasItem = true
      child.forEachOwner = owner.index
      this.#keys.rank[child.index] = rank
      owner.items.push(child.index)
      this.#makeReady(child, false)
    }
    if (this.#events.wants('task:added') || this.#events.wants('task:ready')) {
      for (const index of owner.items) {
        const child = this.#nodes[index] as TaskNode
        this.#emit('task:added', { taskId: child.id, tool: task.toolName, forEachOf: owner.id })
        this.#emit('task:ready', { taskId: child.id })
      }
    }
    return false
  }

  #finishForEach(owner: TaskNode): void {
    const items = (owner.items ?? []).map((i) => this.#nodes[i] as TaskNode)
    owner.finishedAt = this.#env.clock.now()
    const failed = items.filter((item) => item.status !== 'succeeded')
    if (failed.length === 0) {
      owner.output = items.map((item) => item.output)
      this.#transition(owner, 'succeeded')
      if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: owner.id, attempt: 0, durationMs: owner.finishedAt - owner.firstStartedAt })
    } else {
      const error = new TaskweaveError('TW_FOR_EACH', `${failed.length} of ${items.length} items of task "${owner.id}" did not succeed (first: "${(failed[0] as TaskNode).id}" ${(failed[0] as TaskNode).status})`, {
        retryable: false,
        details: { failedItems: failed.map((f) => f.id) },
      })
      owner.error = serializeError(error)
      this.#transition(owner, 'failed')
      if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId: owner.id, attempt: 0, error: owner.error })
    }
    this.#afterTerminal(owner)
  }

  /** Marks a task terminal-handled and walks the consequences iteratively (no recursion on long chains). */
  #settle(first: TaskNode): void {
    const stack = this.#settleStack
    const base = stack.length
    stack.push(first)
    const nodes = this.#nodes
    while (stack.length > base) {
      const node = stack.pop() as TaskNode
      this.#settled++
      if (node.forEachOwner >= 0) {
        const owner = nodes[node.forEachOwner] as TaskNode
        owner.pendingItems--
        if (owner.pendingItems === 0 && owner.status === 'running') {
          this.#finishForEach(owner)
          stack.push(owner)
        }
      }
      for (const c of node.children) {
        const child = nodes[c] as TaskNode
        if (child.status !== 'pending') continue
        child.waiting--
        if (child.waiting === 0 && this.#evaluate(child)) stack.push(child)
      }
    }
  }

  // ---------------------------------------------------------------- transitions

  #transition(node: TaskNode, to: TaskStatus): void {
    assertTransition(node.id, node.status, to)
    node.status = to
  }

  #makeReady(node: TaskNode, report = true): void {
    this.#transition(node, 'ready')
    this.#keys.seq[node.index] = this.#nextSeq++
    this.#queue.push(node.index)
    if (report && this.#events.wants('task:ready')) this.#emit('task:ready', { taskId: node.id })
  }

  #skip(node: TaskNode, reason: string, root: number): void {
    this.#transition(node, 'skipped')
    node.reason = reason
    node.rootFailure = root
    node.finishedAt = this.#env.clock.now()
    if (root >= 0) ((this.#nodes[root] as TaskNode).blocked ??= []).push(node.id)
    if (this.#events.wants('task:skipped')) this.#emit('task:skipped', { taskId: node.id, reason })
    this.#afterTerminal(node)
  }

  #failWithoutAttempt(node: TaskNode, err: unknown): void {
    node.error = serializeError(err)
    node.finishedAt = this.#env.clock.now()
    this.#transition(node, 'failed')
    if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId: node.id, attempt: node.attempts, error: node.error })
    this.#afterTerminal(node)
    if (this.#settings.failFast && this.#state === 'running') this.#stop('failed', `failFast: task "${node.id}" failed`)
  }

  // ---------------------------------------------------------------- dispatch

  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      const queue = this.#queue
      const limit = this.#settings.concurrency
      const groups = this.#workflow.groups
      while (this.#state === 'running' && this.#running < limit && queue.size > 0) {
        const index = queue.pop()
        const node = this.#nodes[index] as TaskNode
        const group = node.task.group
        if (group !== undefined) {
          const cap = groups[group]
          if (cap !== undefined && (this.#groupRunning.get(group) ?? 0) >= cap) {
            this.#groupQueue(group).push(index)
            continue
          }
        }
        if (this.#granted > 0) this.#granted--
        else if (!this.#env.slots.tryAcquire(this)) {
          queue.push(index)
          break
        }
        this.#startAttempt(node)
      }
    } finally {
      this.#pumping = false
    }
  }

  #groupQueue(group: string): ReadyQueue {
    let queue = this.#groupQueues.get(group)
    if (queue === undefined) {
      queue = new ReadyQueue(this.#keys)
      this.#groupQueues.set(group, queue)
    }
    return queue
  }

  #releaseSlot(node: TaskNode): void {
    this.#running--
    this.#env.slots.release()
    const group = node.task.group
    if (group !== undefined) {
      this.#groupRunning.set(group, (this.#groupRunning.get(group) ?? 1) - 1)
      const waiting = this.#groupQueues.get(group)
      if (waiting !== undefined && waiting.size > 0) this.#queue.push(waiting.pop())
    }
  }

  #startAttempt(node: TaskNode): void {
    this.#transition(node, 'running')
    this.#running++
    const group = node.task.group
    if (group !== undefined) this.#groupRunning.set(group, (this.#groupRunning.get(group) ?? 0) + 1)
    node.attempts++
    const token = ++node.token
    const now = this.#env.clock.now()
    node.attemptStartedAt = now
    if (node.firstStartedAt < 0) node.firstStartedAt = now
    node.controller = undefined
    const task = node.task
    if (this.#events.wants('task:started')) {
      this.#emit('task:started', { taskId: node.id, attempt: node.attempts, tool: task.toolName })
      if (node.token !== token || node.status !== 'running') return
    }

    let input: unknown
    if (task.staticInput !== undefined) input = task.staticInput.value
    else {
      try {
        const raw = task.input.resolve(this.#scope(node))
        const checked = task.tool.input.safeParse(raw)
        if (!checked.success) {
          const problems = checked.error.issues.map((i) => `${['input', ...i.path.map(String)].join('.')}: ${i.message}`).join('; ')
          throw new TaskweaveError('TW_TOOL_INPUT', `input rejected by tool "${task.toolName}": ${problems}`, { retryable: false })
        }
        input = checked.data
      } catch (err) {
        this.#attemptFailed(node, token, err)
        return
      }
    }
    if (task.timeoutMs !== undefined) {
      const timeoutMs = task.timeoutMs
      node.timer = this.#env.clock.setTimer(timeoutMs, () => {
        node.timer = undefined
        if (node.token !== token || node.status !== 'running') return
        const error = new TimeoutError(`task "${node.id}" attempt ${node.attempts} timed out after ${timeoutMs} ms`, { details: { taskId: node.id, timeoutMs } })
        node.controller?.abort(error)
        this.#attemptFailed(node, token, error)
      })
    }
    const ctx = new AttemptContext(this, node, token)
    let outcome: unknown
    try {
      outcome = task.tool.run(input, ctx)
    } catch (err) {
      this.#attemptFailed(node, token, err)
      return
    }
    if (typeof (outcome as PromiseLike<unknown> | null)?.then === 'function') {
      ;(outcome as PromiseLike<unknown>).then(
        (value) => this.#attemptSucceeded(node, token, value, ctx),
        (err: unknown) => this.#attemptFailed(node, token, err),
      )
    } else {
      this.#attemptSucceeded(node, token, outcome, ctx)
    }
  }

  #attemptSucceeded(node: TaskNode, token: number, value: unknown, ctx: AttemptContext): void {
    if (node.token !== token || node.status !== 'running') return
    let output: unknown
    try {
      output = toPlainData(value, node.task.tool.maxOutputBytes ?? this.#env.maxOutputBytes, node.id)
    } catch (err) {
      this.#attemptFailed(node, token, err)
      return
    }
    node.timer?.()
    node.timer = undefined
    node.output = output
    const now = this.#env.clock.now()
    node.finishedAt = now
    this.#transition(node, 'succeeded')
    this.#releaseSlot(node)
    this.#env.toolStats.record(node.task.toolName, now - node.attemptStartedAt)
    if (this.#events.wants('task:succeeded')) this.#emit('task:succeeded', { taskId: node.id, attempt: node.attempts, durationMs: now - node.firstStartedAt })
    if (ctx.spawned !== undefined) {
      this.#releaseReserved(node)
      // Tasks added by a tool join only a run that is still going (a cancelled run adds nothing).
      if (this.#state === 'running') for (const spec of ctx.spawned) this.#commitAddedTask(spec, node.id)
    }
    this.#afterTerminal(node)
    this.#settle(node)
    this.#pump()
    this.#maybeFinish()
  }

  #attemptFailed(node: TaskNode, token: number, err: unknown): void {
    if (node.token !== token || node.status !== 'running') return
    this.#releaseReserved(node)
    node.timer?.()
    node.timer = undefined
    const now = this.#env.clock.now()
    const error = serializeError(err)
    const policy = node.task.retry
    // The state changes before the slot is released, so nothing the release sets off can see this
    // attempt as still running.
    if (this.#state === 'running' && shouldRetry(policy, node.attempts, err)) {
      ;(node.failedAttempts ??= []).push({ attempt: node.attempts, startedAt: node.attemptStartedAt, finishedAt: now, error })
      const delayMs = Math.max(backoffDelayMs(policy, node.attempts, this.#env.random), retryAfterHintMs(err) ?? 0)
      this.#transition(node, 'retrying')
      this.#releaseSlot(node)
      node.retryTimer = this.#env.clock.setTimer(delayMs, () => {
        node.retryTimer = undefined
        if (node.status !== 'retrying' || this.#state !== 'running') return
        this.#makeReady(node)
        this.#pump()
      })
      if (this.#events.wants('task:retrying')) this.#emit('task:retrying', { taskId: node.id, attempt: node.attempts, delayMs, error })
      this.#pump()
      return
    }
    node.error = error
    node.finishedAt = now
    this.#transition(node, 'failed')
    this.#releaseSlot(node)
    if (this.#events.wants('task:failed')) this.#emit('task:failed', { taskId: node.id, attempt: node.attempts, error })
    this.#afterTerminal(node)
    this.#settle(node)
    if (this.#settings.failFast && this.#state === 'running') this.#stop('failed', `failFast: task "${node.id}" failed`)
    this.#pump()
    this.#maybeFinish()
  }

  /** Runs the completion handler of a task that just became terminal. */
  #afterTerminal(node: TaskNode): void {
    const handlers = this.#settings.onTaskComplete
    if (handlers === undefined) return
    const handler = typeof handlers === 'function' ? handlers : Object.hasOwn(handlers, node.id) ? handlers[node.id] : undefined
    if (handler === undefined) return
    const completion: TaskCompletion = {
      runId: this.id,
      taskId: node.id,
      status: node.status,
      output: node.output,
      ...(node.error ? { error: node.error } : {}),
    }
    const control: RunControl = { runId: this.id, addTask: (spec) => this.addTask(spec, node.id) }
    this.#pendingHandlers++
    let outcome: void | Promise<void>
    try {
      outcome = handler(completion, control)
    } catch (err) {
      this.#env.logger.error('a task completion handler threw', { runId: this.id, taskId: node.id, error: serializeError(err) })
      this.#pendingHandlers--
      return
    }
    if (typeof (outcome as PromiseLike<void> | undefined)?.then === 'function') {
      Promise.resolve(outcome)
        .catch((err: unknown) => this.#env.logger.error('a task completion handler failed', { runId: this.id, taskId: node.id, error: serializeError(err) }))
        .finally(() => {
          this.#pendingHandlers--
          this.#maybeFinish()
        })
    } else {
      this.#pendingHandlers--
    }
  }

  // ---------------------------------------------------------------- dynamic tasks

  /** Validates a task added at run time (throws `TW_VALIDATION`), without adding it. */
  validateAddedTask(spec: TaskSpec, alsoTaken: ReadonlySet<string>, by?: TaskNode, token?: number): void {
    if (by !== undefined && (by.token !== token || by.status !== 'running')) {
      throw new TaskweaveError('TW_DYNAMIC_TASK', `task "${by.id}" cannot add tasks: its attempt is over`, { retryable: false })
    }
    if (this.#reservedIds.has(spec.id)) {
      throw new TaskweaveError('TW_VALIDATION', `duplicate task id "${spec.id}": another running task already added it`, { retryable: false, details: { taskId: spec.id } })
    }
    this.#compileAdded(spec, alsoTaken)
    // Reserved until the adding attempt ends, so two running tools cannot add the same id.
    if (by !== undefined) this.#reservedIds.set(spec.id, by)
  }

  /** Adds a task to the running workflow; it joins the same report. */
  addTask(spec: TaskSpec, addedBy?: string): void {
    if (this.#state !== 'running') {
      throw new TaskweaveError('TW_DYNAMIC_TASK', `cannot add task "${String(spec.id)}": the run is ${this.#state === 'idle' ? 'not started' : 'ending'}`, { retryable: false })
    }
    this.#commitAddedTask(spec, addedBy)
  }

  #compileAdded(spec: TaskSpec, alsoTaken: ReadonlySet<string>): CompiledTask {
    return compileAddedTask(spec, {
      registry: this.#env.registry,
      workflow: this.#workflow,
      index: this.#nodes.length,
      indexOf: (id) => this.#indexOf(id),
      alsoTaken,
    })
  }

  #commitAddedTask(spec: TaskSpec, addedBy: string | undefined): void {
    if (this.#state !== 'running') return
    const task = this.#compileAdded(spec, new Set())
    const parents = task.parents
    const node = this.#addNode(task.id, task, parents, NO_TASKS)
    node.addedBy = addedBy
    for (const p of parents) {
      const parent = this.#nodes[p] as TaskNode
      if (!isTerminal(parent.status)) parent.addChild(node.index)
    }
    this.#keys.rank[node.index] = this.#costOf(task)
    if (this.#events.wants('task:added')) this.#emit('task:added', { taskId: node.id, tool: task.toolName, ...(addedBy !== undefined ? { addedBy } : {}) })
    if (node.waiting === 0 && this.#evaluate(node)) this.#settle(node)
    this.#pump()
  }

  /** Frees the task ids an attempt of `node` reserved with `ctx.addTask`. */
  #releaseReserved(node: TaskNode): void {
    if (this.#reservedIds.size === 0) return
    for (const [id, by] of this.#reservedIds) if (by === node) this.#reservedIds.delete(id)
  }

  // ---------------------------------------------------------------- ending

  #stop(status: RunStatus, reason: string): void {
    if (this.#state === 'finished' || this.#state === 'cancelling') return
    if (this.#state === 'idle') this.#state = 'running'
    this.#state = 'cancelling'
    this.#stopStatus = status
    this.#stopReason = reason
    if (this.#events.wants('run:cancelling')) this.#emit('run:cancelling', { reason })
    const now = this.#env.clock.now()
    const abortReason = new CancelledError(reason)
    for (const node of this.#nodes) {
      if (isTerminal(node.status)) continue
      // A forEach task in progress holds no slot; its items are cancelled one by one here.
      if (node.status === 'running' && node.items === undefined) {
        node.timer?.()
        node.timer = undefined
        node.controller?.abort(abortReason)
        this.#releaseSlot(node)
      }
      node.retryTimer?.()
      node.retryTimer = undefined
      node.token++
      this.#transition(node, 'cancelled')
      node.reason = reason
      node.finishedAt = now
      this.#settled++
      if (this.#events.wants('task:cancelled')) this.#emit('task:cancelled', { taskId: node.id, reason })
      this.#afterTerminal(node)
    }
    this.#queue.removeWhere(() => true)
    for (const queue of this.#groupQueues.values()) queue.removeWhere(() => true)
    this.#runSignal.abort(abortReason)
    this.#maybeFinish()
  }

  #maybeFinish(): void {
    if (this.#state === 'finished' || this.#state === 'idle') return
    // A cancelled run does not wait for completion handlers: they can add nothing to it any more.
    if (this.#settled < this.#nodes.length || (this.#pendingHandlers > 0 && this.#state === 'running')) return
    if (this.#running > 0) return
    this.#state = 'finished'
    this.#unhookSignal?.()
    this.#env.slots.forget(this)
    const result = this.#buildResult()
    if (this.#events.wants('run:finished')) this.#emit('run:finished', { workflowId: this.#workflow.id, status: result.status, durationMs: result.durationMs })
    this.#resolve(result)
  }

  #buildResult(): RunResult {
    const workflow = this.#workflow
    return buildRunResult(this.#nodes, {
      runId: this.id,
      workflowId: workflow.id,
      workflowHash: () => workflow.hash,
      startedAt: this.#startedWall,
      durationMs: this.#env.clock.now() - this.#startedAt,
      stopStatus: this.#stopStatus,
      stopReason: this.#stopReason,
    })
  }

  // ---------------------------------------------------------------- attempt context support

  /** @internal */ runSignal(): AbortSignal {
    return this.#runSignal.signal
  }

  /** @internal */ progress(node: TaskNode, token: number, progress: ToolProgress): void {
    if (node.token !== token || node.status !== 'running') return
    if (this.#events.wants('task:progress')) this.#emit('task:progress', { taskId: node.id, attempt: node.attempts, progress })
  }

  /** The engine's clock (tools read it through `ctx.clock`). */
  get clock(): Clock {
    return this.#env.clock
  }

  /** @internal */ baseLogger(): Logger {
    return this.#env.logger
  }

  #emit<K extends EventName>(type: K, payload: Omit<EventMap[K], 'runId' | 'at'>): void {
    this.#emitting++
    try {
      this.#events.emit({ type, runId: this.id, at: this.#env.clock.now(), ...payload } as unknown as Parameters<EventEmitter['emit']>[0])
    } finally {
      this.#emitting--
    }
  }
}

function reasonText(reason: unknown): string | undefined {
  if (reason instanceof Error) return reason.message
  return typeof reason === 'string' ? reason : undefined
}
