/**
 * The dependency graph of a compiled workflow in compressed sparse rows: the parents of task `i`
 * are `parents[parentStart[i] … parentStart[i + 1])`, and the same for children. Four typed arrays
 * for the whole graph instead of two arrays per task: a 100,000-task workflow gives the garbage
 * collector nothing to trace here.
 * @module
 */
import type { IdIndex } from './id-index.js'

/** Parents and children of every task, by index. */
export interface TaskGraph {
  /** Number of tasks. */
  readonly size: number
  readonly parentStart: Int32Array
  readonly parents: Int32Array
  readonly childStart: Int32Array
  readonly children: Int32Array
}

/** The parents of task `i` as a plain array (for reports and tools; the engine reads the rows directly). */
export function parentsOf(graph: TaskGraph, i: number): number[] {
  return Array.from(graph.parents.subarray(graph.parentStart[i], graph.parentStart[i + 1]))
}

/** The children of task `i` as a plain array. */
export function childrenOf(graph: TaskGraph, i: number): number[] {
  return Array.from(graph.children.subarray(graph.childStart[i], graph.childStart[i + 1]))
}

/** Collects parent rows task by task (in index order), then derives the children rows. */
export class TaskGraphBuilder {
  readonly #size: number
  readonly #parentStart: Int32Array
  #parents: Int32Array
  /** `#mark[p] === #stamp` when `p` is already a parent in the current row: duplicates drop in O(1). */
  readonly #mark: Int32Array
  #stamp = 1
  #count = 0
  #row = 0

  constructor(size: number) {
    this.#size = size
    this.#parentStart = new Int32Array(size + 1)
    this.#parents = new Int32Array(Math.max(16, size))
    this.#mark = new Int32Array(size)
  }

  /** Adds a parent to the current row (a repeated one is ignored). */
  addParent(parent: number): void {
    if (this.#mark[parent] === this.#stamp) return
    this.#mark[parent] = this.#stamp
    if (this.#count === this.#parents.length) {
      const grown = new Int32Array(this.#parents.length * 2)
      grown.set(this.#parents)
      this.#parents = grown
    }
    this.#parents[this.#count++] = parent
  }

  /** Ends the current row: the next parents belong to the next task. */
  endRow(): void {
    this.#parentStart[++this.#row] = this.#count
    this.#stamp++
  }

  /** Drops the parents added to the current row so far. */
  discardRow(): void {
    this.#count = this.#parentStart[this.#row] as number
    this.#stamp++
  }

  /** Sets the parents of the next task (tasks come in index order; an invalid task gets none). */
  addRow(parents: readonly number[]): void {
    for (let k = 0; k < parents.length; k++) this.addParent(parents[k] as number)
    this.endRow()
  }

  /**
   * Sets the parents of task `self` (the next row) from their ids. Returns false, with no row
   * added, when an id is not a task or is `self`: the caller's full compile then words the problem.
   */
  addRowOfIds(ids: readonly string[] | undefined, self: number, index: Pick<IdIndex, 'get'>): boolean {
    if (ids !== undefined) {
      for (let k = 0; k < ids.length; k++) {
        const parent = index.get(ids[k] as string)
        if (parent === undefined || parent === self) {
          this.discardRow()
          return false
        }
        this.addParent(parent)
      }
    }
    this.endRow()
    return true
  }

  /** Ends the graph; every task must have had its row. */
  finish(): TaskGraph {
    const size = this.#size
    if (this.#row !== size) throw new Error(`taskweave internal error: graph has ${this.#row} of ${size} rows`)
    const parentStart = this.#parentStart
    const parents = this.#parents.subarray(0, this.#count)
    const childStart = new Int32Array(size + 1)
    for (let k = 0; k < parents.length; k++) {
      const slot = (parents[k] as number) + 1
      childStart[slot] = (childStart[slot] as number) + 1
    }
    for (let i = 0; i < size; i++) childStart[i + 1] = (childStart[i + 1] as number) + (childStart[i] as number)
    const children = new Int32Array(parents.length)
    const fill = childStart.slice(0, size)
    // Children of each task in ascending index order (the order tasks were declared in).
    for (let i = 0; i < size; i++) {
      for (let k = parentStart[i] as number; k < (parentStart[i + 1] as number); k++) {
        const p = parents[k] as number
        children[fill[p] as number] = i
        fill[p] = (fill[p] as number) + 1
      }
    }
    return { size, parentStart, parents, childStart, children }
  }
}
