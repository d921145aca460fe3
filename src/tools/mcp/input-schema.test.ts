import { describe, expect, it } from 'vitest'
import { inputSchemaOf } from './input-schema.js'

const problems = (schema: Record<string, unknown>, value: unknown): Array<[string, string]> => {
  const parsed = inputSchemaOf(schema).safeParse(value)
  return parsed.success ? [] : parsed.error.issues.map((issue) => [issue.path.join('.'), issue.message])
}

describe('inputSchemaOf: a tool input checked by its JSON Schema as the server reads it', () => {
  it('changes nothing: no default filled in, no key stripped', () => {
    const schema = { type: 'object', properties: { q: { type: 'string' }, since: { type: 'string', default: '1970-01-01' } }, required: ['q'] }
    const parsed = inputSchemaOf(schema).safeParse({ q: 'x', extra: 1 })
    expect(parsed.success && parsed.data).toEqual({ q: 'x', extra: 1 })
  })

  it('treats formats as annotations and reads patterns with Unicode, as servers do', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { email: { type: 'string', format: 'email' }, id: { type: 'string', format: 'uuid' }, word: { type: 'string', pattern: '^\\p{L}+$' } },
    }
    expect(problems(schema, { email: 'ops+alerts@localhost', id: '11111111-1111-1111-1111-111111111111', word: 'café' })).toEqual([])
    expect(problems(schema, { word: 'café 2' })).toEqual([['word', 'must match pattern "^\\p{L}+$"']])
  })

  it('names each wrong field by its path, every problem at once, draft-07 schemas too', () => {
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: { a: { type: 'number' }, items: { type: 'array', items: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } } } },
      required: ['a'],
      additionalProperties: false,
    }
    expect(problems(schema, { items: [{ n: 1 }, { n: 0 }], b: true })).toEqual([
      ['a', "must have required property 'a'"],
      ['b', 'must NOT have additional properties'],
      ['items.1.n', 'must be >= 1'],
    ])
  })

  it('takes any object when the schema cannot be compiled, and never a non-object', () => {
    const broken = { type: 'object', properties: { a: { $ref: '#/nowhere' } } }
    expect(problems(broken, { a: 1, b: 2 })).toEqual([])
    expect(problems({ type: 'object' }, 'text').length).toBeGreaterThan(0)
  })
})
