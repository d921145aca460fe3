/**
 * Graph algorithms over tasks numbered 0…n-1, all iterative (a 10,000-task chain must not overflow
 * the stack): cycle search with the cycle's path, topological order, and critical-path ranks.
 * @module
 */

/** Finds one cycle and returns it as a closed path of nodes (`[a, b, a]`), or undefined when acyclic. */
export function findCycle(children: readonly (readonly number[])[]): number[] | undefined {
  const n = children.length
  const color = new Uint8Array(n) // 0 unvisited, 1 on the stack, 2 done
  const parentOf = new Int32Array(n).fill(-1)
  const nextChild = new Int32Array(n)
  for (let start = 0; start < n; start++) {
    if (color[start] !== 0) continue
    const stack = [start]
    color[start] = 1
    while (stack.length > 0) {
      const node = stack[stack.length - 1] as number
      const list = children[node] ?? []
      const i = nextChild[node] as number
      if (i < list.length) {
        nextChild[node] = i + 1
        const child = list[i] as number
        if (color[child] === 0) {
          color[child] = 1
          parentOf[child] = node
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

/** Kahn's topological order; assumes the graph is acyclic (check with {@link findCycle} first). */
export function topologicalOrder(parents: readonly (readonly number[])[], children: readonly (readonly number[])[]): number[] {
  const n = parents.length
  const waiting = new Int32Array(n)
  const order: number[] = []
  for (let i = 0; i < n; i++) {
    waiting[i] = (parents[i] ?? []).length
    if (waiting[i] === 0) order.push(i)
  }
  for (let head = 0; head < order.length; head++) {
    for (const child of children[order[head] as number] ?? []) {
      waiting[child] = (waiting[child] as number) - 1
      if (waiting[child] === 0) order.push(child)
    }
  }
  return order
}

/**
 * Longest remaining path from each node to a sink, counting the node's own cost: the key that keeps
 * the tasks on the critical path moving first when slots are scarce (list scheduling, HLFET).
 */
export function criticalPathRanks(order: readonly number[], childrenOf: (node: number) => readonly number[], cost: (node: number) => number): Float64Array {
  const rank = new Float64Array(order.length)
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k] as number
    let best = 0
    for (const child of childrenOf(node)) {
      const r = rank[child] as number
      if (r > best) best = r
    }
    rank[node] = best + cost(node)
  }
  return rank
}
