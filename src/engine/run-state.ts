/**
 * The state of every task of one run, kept as columns (typed arrays indexed by task) rather than
 * an object per task. A run of 100,000 tasks then holds a few dozen arrays instead of 100,000
 * objects the garbage collector must copy and trace for the run's whole life. Workflow tasks take
 * indices 0…n-1 in declaration order; forEach items and added tasks are appended after them.
 * @module
 */
import type { RunUsage } from '../core/report.js'
import type { CancelTimer } from '../core/clock.js'
import type { SerializedError } from '../core/errors.js'
import type { ReadyKeys } from '../scheduler/ready-queue.js'
import type { CompiledWorkflow, TaskShape } from '../workflow/compile.js'
import type { TaskGraph } from '../workflow/task-graph.js'
import type { AttemptRecord } from './report.js'
import { PENDING } from './states.js'

/** State few tasks need (errors, timers, fan-out, tasks added at run time): made on first use. */
export class TaskExtra {
  error: SerializedError | undefined = undefined
  reason: string | undefined = undefined
  /** The failed task that caused this skip, or -1 (a condition, not a failure). */
  rootFailure = -1
  blocked: string[] | undefined = undefined
  failedAttempts: AttemptRecord[] | undefined = undefined
  /** The input resolved when the task was admitted (a tool's permit key needed it), for its next attempt. */
  admittedInput: unknown = undefined
  hasAdmittedInput = false
  /** How the last attempt that ended before succeeding ended (its token and abort reason). */
  ended: { readonly token: number; readonly reason: unknown } | undefined = undefined
  timer: CancelTimer | undefined = undefined
  retryTimer: CancelTimer | undefined = undefined
  /** The fan-out item this task runs on. */
  item: unknown = undefined
  itemIndex = 0
  hasItem = false
  /** Index of the forEach task this item belongs to, or -1. */
  forEachOwner = -1
  pendingItems = 0
  /** Indices of a forEach task's items, once it expanded. */
  items: number[] | undefined = undefined
  addedBy: string | undefined = undefined
  /** Parents of a task appended at run time (workflow tasks have theirs in the graph). */
  parents: readonly number[] | undefined = undefined
  /** Children gained at run time (all the children of an appended task). */
  children: number[] | undefined = undefined
  /** The rate key its calls count against, once admitted under one. */
  rateKey: string | undefined = undefined
  /** Times a 429 sent it back to ready without spending an attempt. */
  bounces = 0
  /** Attempts a suspension stopped (the engine closed): they spend no attempt either. */
  stops = 0
  /** Attempts made before an operator retried the task (`engine.retry`): its retry budget counts from there. */
  retryBase = 0
  /** LLM usage its attempts reported. */
  usage: RunUsage | undefined = undefined
}

const NO_EXTRA_DEFAULTS = new TaskExtra()

/** Per-task columns of one run. */
export class RunState implements ReadyKeys {
  /** Tasks in the run (workflow tasks, then appended ones). */
  size: number
  /** Number of workflow tasks (their parents and children are in {@link graph}). */
  readonly base: number
  readonly graph: TaskGraph
  // The typed-array columns below are views over one buffer, set together by #adopt.
  status!: Uint8Array
  /** Parents not yet terminal. */
  waiting!: Int32Array
  attempts!: Int32Array
  /** Incremented per attempt and on cancel: a result carrying an older token is stale. */
  token!: Int32Array
  firstStartedAt!: Float64Array
  attemptStartedAt!: Float64Array
  finishedAt!: Float64Array
  /** Ready-queue keys. */
  priority!: Int32Array
  rank!: Float64Array
  seq!: Float64Array
  readonly ids: string[]
  readonly shapes: TaskShape[]
  /**
   * Outputs and rare state by task, each made on first use: most tasks of a large run return
   * nothing and need no rare state, and two arrays of 100,000 entries were a fortieth of such a
   * run's time.
   */
  #outputs: unknown[] | undefined = undefined
  #extras: (TaskExtra | undefined)[] | undefined = undefined

  constructor(workflow: CompiledWorkflow) {
    const n = workflow.size
    this.size = n
    this.base = n
    this.graph = workflow.graph
    this.#adopt(allocateColumns(Math.max(SMALL_RUN_CAPACITY, n)))
    this.ids = workflow.ids.slice()
    this.shapes = workflow.shapes.slice()
    const { parentStart } = workflow.graph
    for (let i = 0; i < n; i++) {
      this.waiting[i] = (parentStart[i + 1] as number) - (parentStart[i] as number)
      this.priority[i] = (this.shapes[i] as TaskShape).priority
    }
  }

  /** Appends a task (a forEach item or an added task) in state pending; returns its index. */
  append(id: string, shape: TaskShape, parents: readonly number[]): number {
    const index = this.size
    if (index === this.status.length) this.#grow()
    this.size++
    this.ids.push(id)
    this.shapes.push(shape)
    this.#outputs?.push(undefined)
    this.#extras?.push(undefined)
    this.status[index] = PENDING
    this.priority[index] = shape.priority
    if (parents.length > 0) this.extra(index).parents = parents
    return index
  }

  /** The output of task `i` (undefined until it succeeds with one). */
  output(i: number): unknown {
    return this.#outputs?.[i]
  }

  /** Sets the output of task `i`. */
  setOutput(i: number, value: unknown): void {
    let outputs = this.#outputs
    if (outputs === undefined) {
      if (value === undefined) return
      this.#outputs = outputs = filled(this.size, undefined)
    }
    outputs[i] = value
  }

  /** The rare state of a task, made on first use. */
  extra(i: number): TaskExtra {
    const extras = (this.#extras ??= filled<TaskExtra | undefined>(this.size, undefined))
    let x = extras[i]
    if (x === undefined) extras[i] = x = new TaskExtra()
    return x
  }

  /** The rare state of a task for reading: defaults when it has none. */
  peek(i: number): Readonly<TaskExtra> {
    return this.#extras?.[i] ?? NO_EXTRA_DEFAULTS
  }

  /** The rare state of a task, or undefined when it has none. */
  extraOrUndefined(i: number): TaskExtra | undefined {
    return this.#extras?.[i]
  }

  /** Number of parents of task `i`. */
  parentCount(i: number): number {
    if (i < this.base) return (this.graph.parentStart[i + 1] as number) - (this.graph.parentStart[i] as number)
    return this.#extras?.[i]?.parents?.length ?? 0
  }

  /** The `k`-th parent of task `i`. */
  parentAt(i: number, k: number): number {
    if (i < this.base) return this.graph.parents[(this.graph.parentStart[i] as number) + k] as number
    return (this.#extras?.[i]?.parents as readonly number[])[k] as number
  }

  /** Gives task `i` a child at run time (a task added later that depends on it). */
  addChild(i: number, child: number): void {
    ;(this.extra(i).children ??= []).push(child)
  }

  #grow(): void {
    const c = allocateColumns(this.status.length * 2)
    c.status.set(this.status)
    c.waiting.set(this.waiting)
    c.attempts.set(this.attempts)
    c.token.set(this.token)
    c.firstStartedAt.set(this.firstStartedAt)
    c.attemptStartedAt.set(this.attemptStartedAt)
    c.finishedAt.set(this.finishedAt)
    c.priority.set(this.priority)
    c.rank.set(this.rank)
    c.seq.set(this.seq)
    this.#adopt(c)
  }

  /** Takes `c` as the run's columns (at construction, and when they grow). */
  #adopt(c: Columns): void {
    this.status = c.status
    this.waiting = c.waiting
    this.attempts = c.attempts
    this.token = c.token
    this.firstStartedAt = c.firstStartedAt
    this.attemptStartedAt = c.attemptStartedAt
    this.finishedAt = c.finishedAt
    this.priority = c.priority
    this.rank = c.rank
    this.seq = c.seq
  }

}

/** The typed-array columns of a run. */
interface Columns {
  readonly firstStartedAt: Float64Array
  readonly attemptStartedAt: Float64Array
  readonly finishedAt: Float64Array
  readonly rank: Float64Array
  readonly seq: Float64Array
  readonly waiting: Int32Array
  readonly attempts: Int32Array
  readonly token: Int32Array
  readonly priority: Int32Array
  readonly status: Uint8Array
}

/**
 * Runs of at most this many tasks take their columns from a shared slab. A typed array of its own,
 * even a small one kept inside the heap, comes with an `ArrayBuffer` object and a byte array:
 * about 265 bytes, 2.6 KB for a run's ten columns, a fifth of all a five-task run allocates. A view
 * over a slab is about 95 bytes.
 */
const SMALL_RUN_CAPACITY = 8

/** Bytes of columns per task: five 8-byte, four 4-byte and one 1-byte column. */
const BYTES_PER_TASK = 5 * 8 + 4 * 4 + 1

/**
 * Small runs per slab. A slab is never reused: each run's part is its own for as long as the run
 * is reachable, and the slab is freed once none of its runs is. A finished run kept alive (its
 * handle held) therefore keeps its slab too, 16 × 456 bytes: few enough to be small next to the
 * run's other objects.
 */
const RUNS_PER_SLAB = 16

let slab: ArrayBuffer | undefined
let slabUsed = 0

/**
 * Every column for `capacity` tasks: for a small run, views over its part of the current slab;
 * beyond, views over one `ArrayBuffer` of its own (one allocation instead of ten). The 8-byte
 * columns come first so every view is aligned; times start at -1 ("not yet").
 */
function allocateColumns(capacity: number): Columns {
  if (capacity <= SMALL_RUN_CAPACITY) {
    const bytes = SMALL_RUN_CAPACITY * BYTES_PER_TASK
    if (slab === undefined || slabUsed + bytes > slab.byteLength) {
      slab = new ArrayBuffer(bytes * RUNS_PER_SLAB)
      slabUsed = 0
    }
    const start = slabUsed
    slabUsed += bytes
    return columnsIn(slab, start, SMALL_RUN_CAPACITY)
  }
  return columnsIn(new ArrayBuffer(capacity * BYTES_PER_TASK), 0, capacity)
}

/**
 * The columns for `capacity` tasks laid out in `buffer` from byte `start` (a multiple of 8). Offsets
 * are written out rather than taken from a helper closure: a closure here would give every run a
 * context and two functions.
 */
function columnsIn(buffer: ArrayBuffer, start: number, capacity: number): Columns {
  const f64 = capacity * 8
  const i32 = capacity * 4
  const firstStartedAt = new Float64Array(buffer, start, capacity).fill(-1)
  const attemptStartedAt = new Float64Array(buffer, start + f64, capacity).fill(-1)
  const finishedAt = new Float64Array(buffer, start + 2 * f64, capacity).fill(-1)
  const rank = new Float64Array(buffer, start + 3 * f64, capacity)
  const seq = new Float64Array(buffer, start + 4 * f64, capacity)
  const ints = start + 5 * f64
  const waiting = new Int32Array(buffer, ints, capacity)
  const attempts = new Int32Array(buffer, ints + i32, capacity)
  const token = new Int32Array(buffer, ints + 2 * i32, capacity)
  const priority = new Int32Array(buffer, ints + 3 * i32, capacity)
  const status = new Uint8Array(buffer, ints + 4 * i32, capacity)
  return { firstStartedAt, attemptStartedAt, finishedAt, rank, seq, waiting, attempts, token, priority, status }
}

/**
 * An array of `n` copies of `value` with fast elements: `new Array(n)` for a large `n` may give a
 * dictionary-backed array, much slower to index.
 */
function filled<T>(n: number, value: T): T[] {
  const out: T[] = []
  for (let i = 0; i < n; i++) out.push(value)
  return out
}
