import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ToolRegistry } from '../core/registry.js'
import { defineTool } from '../core/tool.js'
import { compileWorkflow } from '../workflow/compile.js'
import { RunState } from './run-state.js'
import { PENDING } from './states.js'

const noop = defineTool({ name: 'noop', input: z.object({}), run: () => undefined })
const workflow = compileWorkflow(
  { id: 'w', tasks: [{ id: 'a', tool: 'noop' }, { id: 'b', tool: 'noop', priority: 2, dependsOn: ['a'] }] },
  { registry: new ToolRegistry([noop]) },
)

describe('RunState', () => {
  it('starts every workflow task pending, waiting for its parents, with unset times', () => {
    const state = new RunState(workflow)
    expect(state.size).toBe(2)
    expect(Array.from(state.waiting.subarray(0, 2))).toEqual([0, 1])
    expect(Array.from(state.priority.subarray(0, 2))).toEqual([0, 2])
    expect(state.firstStartedAt[0]).toBe(-1)
    expect(state.parentCount(1)).toBe(1)
    expect(state.parentAt(1, 0)).toBe(0)
    expect(state.peek(0).rootFailure).toBe(-1)
    expect(state.extraOrUndefined(0)).toBeUndefined()
  })

  it('makes outputs and rare state on first use, for every task appended before or after', () => {
    const state = new RunState(workflow)
    expect([state.output(0), state.output(1), state.extraOrUndefined(1)]).toEqual([undefined, undefined, undefined])
    // An undefined output makes nothing; the first real one makes the column, sized for every task.
    state.setOutput(0, undefined)
    const shape = workflow.shapes[0]!
    const early = state.append('early', shape, [])
    state.setOutput(1, { n: 1 })
    const late = state.append('late', shape, [0])
    state.setOutput(late, 'late output')
    expect([state.output(0), state.output(1), state.output(early), state.output(late)]).toEqual([undefined, { n: 1 }, undefined, 'late output'])
    // The appended task with a parent made the rare state; the others still read the defaults.
    expect(state.parentCount(late)).toBe(1)
    expect(state.parentAt(late, 0)).toBe(0)
    expect(state.peek(early).rootFailure).toBe(-1)
    state.extra(early).reason = 'set'
    expect([state.peek(early).reason, state.peek(0).reason]).toEqual(['set', undefined])
  })

  it('gives every small run columns of its own, across the runs that share a slab', () => {
    // More runs than one slab holds: each writes its own values, none sees another's.
    const states = Array.from({ length: 40 }, () => new RunState(workflow))
    states.forEach((state, k) => {
      state.status[1] = k % 8
      state.token[1] = k
      state.attempts[0] = k + 1
      state.finishedAt[1] = k * 10
      state.seq[0] = k / 2
    })
    states.forEach((state, k) => {
      expect([state.status[1], state.token[1], state.attempts[0], state.finishedAt[1], state.seq[0]]).toEqual([k % 8, k, k + 1, k * 10, k / 2])
      // Untouched cells keep their start values.
      expect([state.firstStartedAt[0], state.attemptStartedAt[1], state.waiting[1], state.priority[1]]).toEqual([-1, -1, 1, 2])
    })
  })

  it('appends tasks past its capacity, keeping every column and the parents of appended tasks', () => {
    const state = new RunState(workflow)
    state.status[0] = 4
    state.setOutput(0, 'kept')
    state.firstStartedAt[0] = 7
    const shape = workflow.shapes[0]!
    const added: number[] = []
    for (let k = 0; k < 100; k++) added.push(state.append(`x${k}`, shape, k === 0 ? [0, 1] : [added[k - 1]!]))
    expect(state.size).toBe(102)
    expect(state.status.length).toBeGreaterThanOrEqual(102)
    // Old values survive growth; new rows start pending with unset times.
    expect([state.status[0], state.output(0), state.firstStartedAt[0]]).toEqual([4, 'kept', 7])
    expect([state.status[101], state.firstStartedAt[101], state.finishedAt[101]]).toEqual([PENDING, -1, -1])
    expect(state.ids[101]).toBe('x99')
    expect(state.parentCount(2)).toBe(2)
    expect([state.parentAt(2, 0), state.parentAt(2, 1)]).toEqual([0, 1])
    expect(state.parentAt(101, 0)).toBe(100)
    state.addChild(0, 2)
    expect(state.extra(0).children).toEqual([2])
  })
})
