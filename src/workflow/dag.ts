/**
 * Graph algorithms over tasks numbered 0…n-1, all iterative (a 10,000-task chain must not overflow
 * the stack): cycle search with the cycle's path, topological order, and critical-path ranks.
 * @module
 */
import type { TaskGraph } from './task-graph.js'
import type { TaskShape } from './compile-task.js'

/** Finds one cycle and returns it as a closed path of nodes (`[a, b, a]`), or undefined when acyclic. */
export function findCycle(graph: TaskGraph): number[] | undefined {
  const n = graph.size
  const { childStart, children } = graph
  const color = new Uint8Array(n) // 0 unvisited, 1 on the stack, 2 done
  const parentOf = new Int32Array(n).fill(-1)
  const nextChild = new Int32Array(n)
  for (let start = 0; start < n; start++) {
    if (color[start] !== 0) continue
    const stack = [start]
    color[start] = 1
    nextChild[start] = childStart[start] as number
    while (stack.length > 0) {
      const node = stack[stack.length - 1] as number
      const k = nextChild[node] as number
      if (k < (childStart[node + 1] as number)) {
        nextChild[node] = k + 1
        const child = children[k] as number
        if (color[child] === 0) {
          color[child] = 1
          parentOf[child] = node
          nextChild[child] = childStart[child] as number
          stack.push(child)
        } else if (color[child] === 1) {
          const path = [child]
          for (let at = node; at !== child; at = parentOf[at] as number) path.push(at)
          path.push(child)
          return path.reverse()
        }
      } else {
        color[node] = 2
        stack.pop()
      }
    }
  }
  return undefined
}

/**
 * Kahn's topological order. Tasks on (or behind) a cycle are left out, so an order shorter than
 * the graph means there is a cycle (then {@link findCycle} finds its path).
 */
export function topologicalOrder(graph: TaskGraph): Int32Array {
  const n = graph.size
  const { parentStart, childStart, children } = graph
  const waiting = new Int32Array(n)
  const order = new Int32Array(n)
  let tail = 0
  for (let i = 0; i < n; i++) {
    const w = (parentStart[i + 1] as number) - (parentStart[i] as number)
    waiting[i] = w
    if (w === 0) order[tail++] = i
  }
  for (let head = 0; head < tail; head++) {
    const node = order[head] as number
    for (let k = childStart[node] as number; k < (childStart[node + 1] as number); k++) {
      const child = children[k] as number
      const w = (waiting[child] as number) - 1
      waiting[child] = w
      if (w === 0) order[tail++] = child
    }
  }
  return tail === n ? order : order.subarray(0, tail)
}

/**
 * Longest remaining path from each node to a sink, counting the node's own cost: the key that keeps
 * the tasks on the critical path moving first when slots are scarce (list scheduling, HLFET).
 * `cost[i]` is the cost of task `i`. Written into `out` when given (every node of `order` is
 * written), else into a new array.
 */
export function criticalPathRanks(graph: TaskGraph, order: ArrayLike<number>, cost: ArrayLike<number>, out?: Float64Array): Float64Array {
  const rank = out ?? new Float64Array(graph.size)
  const { childStart, children } = graph
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k] as number
    let best = 0
    for (let c = childStart[node] as number; c < (childStart[node + 1] as number); c++) {
      const r = rank[children[c] as number] as number
      if (r > best) best = r
    }
    rank[node] = best + (cost[node] as number)
  }
  return rank
}

/** Where a task without a cost of its own gets one: the mean duration of its tool's attempts so far. */
export interface ToolDurations {
  meanMs(tool: string): number | undefined
}

/** A task's cost: its `cost`, else its tool's mean duration so far, else 1. */
export function taskCost(shape: TaskShape, durations: ToolDurations): number {
  return shape.cost ?? durations.meanMs(shape.toolName) ?? 1
}

/** Reused by {@link taskCosts} for workflows that fit (its answer is read at once, never kept). */
let scratchCosts = new Float64Array(256)

/**
 * Cost of each of the first `size` tasks ({@link taskCost}). Neighbouring tasks mostly call the
 * same tool with no cost of their own, so the last answer is reused while the tool and the cost
 * stay the same: a batch of calls of one tool, a shape per call, asks for the tool's mean once,
 * not once per call. The array returned is shared scratch space for workflows of up to 4,096
 * tasks: read it before the next call.
 */
export function taskCosts(shapes: readonly TaskShape[], size: number, durations: ToolDurations): Float64Array {
  if (size > scratchCosts.length && size <= 4096) scratchCosts = new Float64Array(4096)
  const costs = size <= scratchCosts.length ? scratchCosts : new Float64Array(size)
  let lastShape: TaskShape | undefined
  let lastCost = 0
  for (let i = 0; i < size; i++) {
    const shape = shapes[i] as TaskShape
    if (shape !== lastShape && (lastShape === undefined || shape.toolName !== lastShape.toolName || shape.cost !== lastShape.cost)) lastCost = taskCost(shape, durations)
    lastShape = shape
    costs[i] = lastCost
  }
  return costs
}
