import { describe, expect, it } from 'vitest'
import { entryOf, KIND_CODES, kindCode, kindOf } from './journal-codec.js'

describe('journal codec', () => {
  it('keeps the on-disk kind codes (changing one would misread every existing file)', () => {
    expect(KIND_CODES).toEqual({ start: 0, ok: 1, fail: 2, add: 3, handled: 4, stop: 5, finish: 6, park: 7, reopen: 8 })
    for (const [kind, code] of Object.entries(KIND_CODES)) expect(kindOf(code)).toBe(kind)
  })

  it('looks kinds up by own key only', () => {
    expect(kindCode('ok')).toBe(1)
    expect(kindCode('toString')).toBeUndefined()
    expect(kindCode('__proto__')).toBeUndefined()
    expect(kindOf(9)).toBeUndefined()
  })

  it('reads NULL columns as absent fields, not undefined-valued ones', () => {
    const entry = entryOf([3, KIND_CODES.stop, null, null, 17, '{"status":"cancelled"}', null], 'r')
    expect(entry).toStrictEqual({ seq: 3, kind: 'stop', at: 17, data: '{"status":"cancelled"}' })
    expect(Object.keys(entry)).not.toContain('taskId')
    expect(entryOf([1, KIND_CODES.ok, 'a', 2, 5, null, '[]'], 'r')).toStrictEqual({ seq: 1, kind: 'ok', taskId: 'a', attempt: 2, at: 5, added: '[]' })
  })

  it('refuses a kind code it does not know, naming the run and the entry', () => {
    expect(() => entryOf([9, 42, null, null, 1, null, null], 'r-1')).toThrow(/journal of run "r-1": entry 9 has kind code 42/)
  })
})
