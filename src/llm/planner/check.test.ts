import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ToolRegistry } from '../../core/registry.js'
import { defineTool } from '../../core/tool.js'
import { checkPlanAnswer, type PlanAnswer } from './check.js'

const registry = new ToolRegistry([defineTool({ name: 'echo', input: z.object({ text: z.string() }), run: ({ text }) => text })])
const answer = (content: string, more: Partial<PlanAnswer> = {}): PlanAnswer => ({ content, finishReason: 'stop', refusal: undefined, ...more })
const VALID = { id: 'w', tasks: [{ id: 'a', tool: 'echo', input: { text: 'hi' } }] }

describe('checkPlanAnswer', () => {
  it('accepts a valid plan, keeping its fields in reading order', () => {
    const checked = checkPlanAnswer(answer(JSON.stringify({ tasks: [{ input: { text: 'hi' }, tool: 'echo', id: 'a', dependsOn: [] }], description: 'd', id: 'w' })), registry)
    expect(checked.ok).toBe(true)
    if (!checked.ok) return
    expect(JSON.stringify(checked.spec)).toBe('{"id":"w","description":"d","tasks":[{"id":"a","tool":"echo","dependsOn":[],"input":{"text":"hi"}}]}')
    expect(checked.workflow.ids).toEqual(['a'])
  })

  it('gives a missing id the default, and the id argument wins over the model', () => {
    const { id: _id, ...noId } = VALID
    expect(checkPlanAnswer(answer(JSON.stringify(noId)), registry)).toMatchObject({ ok: true, spec: { id: 'plan' } })
    expect(checkPlanAnswer(answer(JSON.stringify(VALID)), registry, 'mine')).toMatchObject({ ok: true, workflow: { id: 'mine' } })
  })

  it('unwraps a fenced answer', () => {
    expect(checkPlanAnswer(answer('```json\n' + JSON.stringify(VALID) + '\n```\n'), registry).ok).toBe(true)
    expect(checkPlanAnswer(answer('```\n' + JSON.stringify(VALID) + '```'), registry).ok).toBe(true)
  })

  it.each([
    ['empty', answer(''), /the answer is empty/],
    ['not JSON', answer('{"id": '), /not valid JSON/],
    ['an array', answer('[]'), /must be one JSON object .*received an array/],
    ['a refusal', answer('', { refusal: 'I cannot help with that' }), /the model refused: I cannot help with that/],
    ['cut off', answer('{"id": "w", "tasks": [', { finishReason: 'length' }), /cut off by the length limit/],
    ['no tasks', answer('{"id": "w", "tasks": []}'), /at least one task/],
  ])('reports an answer that is %s as one problem', (_name, given, message) => {
    const checked = checkPlanAnswer(given, registry)
    expect(checked.ok).toBe(false)
    if (checked.ok) return
    expect(checked.issues).toHaveLength(1)
    expect(checked.issues[0]?.message).toMatch(message)
  })
})
