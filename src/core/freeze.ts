/** Deep-freezing plain data: values shared across tasks, runs and the report cannot be changed. @module */

/**
 * Freezes plain data in place, all the way down, and returns it. Iterative, so a deeply nested
 * value cannot overflow the stack. A frozen node is taken as frozen all the way down and not
 * walked again: every value this module freezes is made fresh (by `JSON.parse`, or by the run
 * from values frozen this way), so no node is frozen above a mutable child.
 */
export function freezeDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value
  const stack: object[] = [value]
  while (stack.length > 0) {
    const node = stack.pop() as object
    Object.freeze(node)
    if (Array.isArray(node)) {
      for (let k = 0; k < node.length; k++) {
        const child: unknown = node[k]
        if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) stack.push(child)
      }
    } else {
      for (const key in node) {
        const child: unknown = (node as Record<string, unknown>)[key]
        if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) stack.push(child)
      }
    }
  }
  return value
}
