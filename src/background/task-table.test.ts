import { describe, expect, it } from 'vitest'
import { seqOfId, TaskTable } from './task-table.js'
import type { Keyed } from './task-table.js'

const record = (id: string): Keyed => ({ id, key: -1 })

describe('seqOfId', () => {
  it('reads the number after the last colon', () => {
    expect(seqOfId('conv-1:fetch:42')).toBe(42)
    expect(seqOfId('a:b:c:7')).toBe(7)
    expect(seqOfId(':1')).toBe(1)
  })

  it('refuses ids that do not end in a plain decimal number', () => {
    for (const id of ['conv:name:', 'conv:name:x1', 'conv:name:1x', 'noColon12', 'conv:name:007', 'conv:name:-1', 'conv:name:1.5', 'c:n:9999999999999999', ''])
      expect(seqOfId(id), id).toBe(-1)
    expect(seqOfId('c:n:0')).toBe(0)
  })
})

describe('TaskTable', () => {
  it('finds a record by its whole id, not by its number alone', () => {
    const table = new TaskTable<Keyed>()
    const a = record('c1:fetch:1')
    table.add(a, 1)
    expect(table.get('c1:fetch:1')).toBe(a)
    expect(table.get('c2:fetch:1')).toBeUndefined()
    expect(table.get('c1:fetch:2')).toBeUndefined()
    expect(table.get(7 as unknown as string)).toBeUndefined()
  })

  it('finds a record built as a new string equal to its id', () => {
    const table = new TaskTable<Keyed>()
    const a = record(`${'conv'}-${1}:${'fetch'}:${12}`)
    table.add(a, 12)
    table.add(record('c:x:13'), 13) // a is no longer the last added
    expect(table.get(['conv-1', 'fetch', '12'].join(':'))).toBe(a)
  })

  it('forgets a deleted record, the last added one included', () => {
    const table = new TaskTable<Keyed>()
    const a = record('c:a:1')
    const b = record('c:b:2')
    table.add(a, 1)
    table.add(b, 2)
    table.delete(b)
    expect(table.get('c:b:2')).toBeUndefined()
    expect(table.get('c:a:1')).toBe(a)
    expect(table.size).toBe(1)
    table.delete(a)
    expect(table.size).toBe(0)
  })

  it('keeps an adopted record whose number is taken, or missing, by its id', () => {
    const table = new TaskTable<Keyed>()
    const fresh = record('new:task:1')
    table.add(fresh, 1)
    const clash = record('old:task:1')
    const odd = record('legacy-id')
    const numbered = record('old:task:9')
    expect(table.adopt(clash)).toBe(true)
    expect(table.adopt(odd)).toBe(true)
    expect(table.adopt(numbered)).toBe(true)
    expect(table.adopt(record('old:task:1'))).toBe(false) // already here
    expect([clash.key, odd.key, numbered.key]).toEqual([-1, -1, 9])
    expect(table.get('new:task:1')).toBe(fresh)
    expect(table.get('old:task:1')).toBe(clash)
    expect(table.get('legacy-id')).toBe(odd)
    expect(table.get('old:task:9')).toBe(numbered)
    expect(table.size).toBe(4)
    expect(new Set(table.values())).toEqual(new Set([fresh, clash, odd, numbered]))
    table.delete(clash)
    expect(table.get('old:task:1')).toBeUndefined()
    expect(table.get('new:task:1')).toBe(fresh)
  })
})
