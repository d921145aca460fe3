import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { workflowJsonSchema } from './schema.js'

describe('JSON Schema', () => {
  it('is published and up to date (run `npm run schema` after changing the schema)', () => {
    const published = JSON.parse(readFileSync(new URL('../../schema/workflow.schema.json', import.meta.url), 'utf8'))
    expect(published).toEqual(workflowJsonSchema())
  })

  it('describes tasks with their fields', () => {
    const schema = workflowJsonSchema() as { properties: { tasks: { items: { properties: Record<string, unknown>; additionalProperties: boolean } } } }
    expect(Object.keys(schema.properties.tasks.items.properties)).toEqual(expect.arrayContaining(['id', 'tool', 'input', 'dependsOn', 'when', 'trigger', 'forEach', 'priority', 'group', 'retry', 'timeout']))
    expect(schema.properties.tasks.items.additionalProperties).toBe(false)
  })
})
