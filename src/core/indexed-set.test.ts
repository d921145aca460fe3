import { describe, expect, it } from 'vitest'
import { IndexedSet } from './indexed-set.js'

const item = (name: string): { name: string; indexInSet: number } => ({ name, indexInSet: -1 })

describe('IndexedSet', () => {
  it('adds once, removes any member (the last one takes its place) and knows who is in it', () => {
    const set = new IndexedSet<ReturnType<typeof item>>()
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [ReturnType<typeof item>, ReturnType<typeof item>, ReturnType<typeof item>, ReturnType<typeof item>]
    for (const x of [a, b, c, a]) set.add(x)
    expect(set.size).toBe(3)
    expect(set.delete(a)).toBe(true)
    expect(set.delete(a)).toBe(false)
    expect(set.has(a)).toBe(false)
    expect(a.indexInSet).toBe(-1)
    expect(set.toArray().map((x) => x.name).sort()).toEqual(['b', 'c'])
    expect(set.has(d)).toBe(false)
    expect(set.delete(d)).toBe(false)
    set.add(d)
    expect(set.delete(c)).toBe(true)
    expect(set.delete(d)).toBe(true)
    expect(set.toArray()).toEqual([b])
    expect(set.has(b)).toBe(true)
  })

  it('does not take a member of another set for its own', () => {
    const one = new IndexedSet<ReturnType<typeof item>>()
    const other = new IndexedSet<ReturnType<typeof item>>()
    const a = item('a')
    const b = item('b')
    one.add(a)
    other.add(b)
    // b sits at index 0 of the other set: the same index as a here, yet not a member.
    expect(one.has(b)).toBe(false)
    expect(one.delete(b)).toBe(false)
    expect(other.has(b)).toBe(true)
  })

  it('goes through a copy: members removed or added during the loop change nothing of it', () => {
    const set = new IndexedSet<ReturnType<typeof item>>()
    const members = ['a', 'b', 'c'].map(item)
    for (const x of members) set.add(x)
    const seen: string[] = []
    for (const x of set) {
      seen.push(x.name)
      set.delete(x)
      set.add(item(`${x.name}2`))
    }
    expect(seen).toEqual(['a', 'b', 'c'])
    expect(set.toArray().map((x) => x.name).sort()).toEqual(['a2', 'b2', 'c2'])
  })
})
