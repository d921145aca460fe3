import { describe, expect, it } from 'vitest'
import { EntryList } from './entry-list.js'

interface Record {
  readonly id: number
  member: boolean
}

describe('EntryList', () => {
  it('keeps members in insertion order and skips records whose flag was cleared', () => {
    const list = new EntryList<Record>((r) => r.member)
    const records = [1, 2, 3, 4].map((id): Record => ({ id, member: true }))
    for (const r of records) list.push(r)
    ;(records[1] as Record).member = false
    list.dropped()
    expect(list.size).toBe(3)
    expect(list.members().map((r) => r.id)).toEqual([1, 3, 4])
  })

  it('stays as large as its members after most of them were dropped', () => {
    const list = new EntryList<Record>((r) => r.member)
    const records = Array.from({ length: 10_000 }, (_, id): Record => ({ id, member: true }))
    for (const r of records) list.push(r)
    for (const r of records.slice(0, 9_990)) {
      r.member = false
      list.dropped()
    }
    expect(list.size).toBe(10)
    expect(list.members().map((r) => r.id)).toEqual(records.slice(9_990).map((r) => r.id))
    for (const r of records.slice(9_990)) {
      r.member = false
      list.dropped()
    }
    expect(list.members()).toEqual([])
  })
})
