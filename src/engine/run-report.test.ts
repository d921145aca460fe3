import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../core/tool.js'
import { createEngine } from './engine.js'
import { taskReportAt } from './run-report.js'
import { ManualClock } from '../testing/manual-clock.js'

describe('taskReportAt', () => {
  it('gives the report of one task by its index, the same as result.tasks holds, and nothing for other indices or results', async () => {
    const echo = defineTool({ name: 'echo', input: z.object({ n: z.number() }), run: (input) => input.n * 2 })
    const fail = defineTool({ name: 'fail', input: z.object({}), run: () => Promise.reject(new Error('no')) })
    const engine = createEngine({ tools: [echo, fail], builtins: false })
    const result = await engine.run({
      id: 'r',
      tasks: [
        { id: 'a', tool: 'echo', input: { n: 1 } },
        { id: 'b', tool: 'fail' },
        { id: 'c', tool: 'echo', input: { n: 3 }, dependsOn: ['b'] },
      ],
    })
    expect(taskReportAt(result, 0)).toEqual(result.tasks['a'])
    expect(taskReportAt(result, 0)?.output).toBe(2)
    expect(taskReportAt(result, 1)).toEqual(result.tasks['b'])
    expect(taskReportAt(result, 1)?.status).toBe('failed')
    expect(taskReportAt(result, 2)).toEqual(result.tasks['c'])
    expect(taskReportAt(result, 2)?.status).toBe('skipped')
    expect(taskReportAt(result, 3)).toBeUndefined()
    expect(taskReportAt(result, -1)).toBeUndefined()
    expect(taskReportAt({ ...result }, 0)).toBeUndefined()
    await engine.close()
  })
})

describe('a run whose clock gives no usable wall time', () => {
  it('is refused with an error naming the clock, instead of a result that never settles', async () => {
    const clock = new ManualClock()
    clock.wallNow = () => Number.NaN
    const engine = createEngine({ clock, builtins: false, tools: [defineTool({ name: 'one', input: z.object({}), run: () => 1 })] })
    await expect(engine.run({ id: 'w', tasks: [{ id: 'a', tool: 'one' }] })).rejects.toMatchObject({ code: 'TW_INVALID_OPTION', message: expect.stringMatching(/clock\.wallNow\(\)/) as unknown })
    await engine.close()
  })
})
