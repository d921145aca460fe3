import { describe, expect, it } from 'vitest'
import { IdIndex, SMALL_INDEX } from './id-index.js'

// Both representations: a capacity up to SMALL_INDEX gives the Map, above it the table.
describe.each([
  ['Map', 16],
  ['table', SMALL_INDEX + 1],
])('IdIndex (%s)', (_name, capacity) => {
  it('finds every id it holds, reports duplicates with the first index, and misses unknown ids', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `task-${i % 4000}`)
    const index = new IdIndex(ids, capacity)
    for (let i = 0; i < ids.length; i++) expect(index.add(i)).toBe(i < 4000 ? -1 : i - 4000)
    expect(index.size).toBe(4000)
    for (let i = 0; i < 4000; i++) expect(index.get(`task-${i}`)).toBe(i)
    expect(index.get('task-4000')).toBeUndefined()
    expect(index.has('')).toBe(false)
    expect(index.has('task-0')).toBe(true)
    for (const notAnId of [undefined, null, 7, {}]) expect(index.get(notAnId as never)).toBeUndefined()
  })

  it('grows past the capacity it was sized for', () => {
    const ids = Array.from({ length: 3 * capacity + 1000 }, (_, i) => String(i))
    const index = new IdIndex(ids, capacity)
    ids.forEach((_, i) => expect(index.add(i)).toBe(-1))
    ids.forEach((id, i) => expect(index.get(id)).toBe(i))
    expect(index.size).toBe(ids.length)
  })

  it('iterates like a Map of id → index, in index order', () => {
    const ids = ['b', 'a', 'b', 'c']
    const index = new IdIndex(ids, capacity)
    ids.forEach((_, i) => index.add(i))
    expect([...index]).toEqual([['b', 0], ['a', 1], ['c', 3]])
    expect([...index.keys()]).toEqual(['b', 'a', 'c'])
    expect([...index.values()]).toEqual([0, 1, 3])
    const seen: string[] = []
    index.forEach((value, key) => seen.push(`${key}=${value}`))
    expect(seen).toEqual(['b=0', 'a=1', 'c=3'])
    expect(new Map(index)).toEqual(new Map([['b', 0], ['a', 1], ['c', 3]]))
  })

  it('of distinct ids: every lookup, size and iteration sees every id, on either representation', () => {
    for (const n of [0, 3, capacity + 10]) {
      const ids = Array.from({ length: n }, (_, i) => `t${i}`)
      const index = IdIndex.ofDistinct(ids, n)
      expect(index.get(`t${n - 1}`)).toBe(n === 0 ? undefined : n - 1)
      expect(index.size).toBe(n)
      expect(index.has('t0')).toBe(n > 0)
      expect(index.get('missing')).toBeUndefined()
      expect([...index.keys()]).toEqual(ids)
    }
    // Size asked first, before any lookup.
    expect(IdIndex.ofDistinct(['a', 'b'], 2).size).toBe(2)
    // Filled after it was made, as a compile fills it.
    const later: string[] = []
    const filled = IdIndex.ofDistinct(later, 2)
    later.push('x', 'y')
    expect(filled.get('y')).toBe(1)
  })
})
