import { describe, expect, it } from 'vitest'
import { taskCosts } from './dag.js'
import type { TaskShape } from './compile-task.js'

/** Only the fields taskCosts reads. */
const shape = (toolName: string, cost?: number): TaskShape => ({ toolName, cost }) as unknown as TaskShape

describe('taskCosts', () => {
  it('asks for a tool mean once per run of shapes of that tool, however many shapes', () => {
    const asked: string[] = []
    const means: Record<string, number> = { fetch: 40, parse: 5 }
    const durations = {
      meanMs: (tool: string): number | undefined => {
        asked.push(tool)
        return means[tool]
      },
    }
    const shapes = [shape('fetch'), shape('fetch'), shape('fetch'), shape('parse'), shape('parse'), shape('fetch')]
    expect(Array.from(taskCosts(shapes, shapes.length, durations).subarray(0, shapes.length))).toEqual([40, 40, 40, 5, 5, 40])
    expect(asked).toEqual(['fetch', 'parse', 'fetch'])
  })

  it('gives a task its own cost over its tool mean, and the mean (or 1) back to the next one without', () => {
    const durations = { meanMs: (tool: string): number | undefined => (tool === 'known' ? 7 : undefined) }
    const shapes = [shape('known'), shape('known', 100), shape('known', 100), shape('known'), shape('unknown'), shape('unknown', 3)]
    expect(Array.from(taskCosts(shapes, shapes.length, durations).subarray(0, shapes.length))).toEqual([7, 100, 100, 7, 1, 3])
  })
})
