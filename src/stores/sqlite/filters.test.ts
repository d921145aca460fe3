import { describe, expect, it } from 'vitest'
import { listWhere, pruneWhere } from './filters.js'

describe('list and prune filters', () => {
  it('an empty filter has no clause', () => {
    expect(listWhere({})).toEqual({ sql: '', params: [] })
  })

  it('binds every value; the text depends only on the shape of the filter', () => {
    const hostile = "x' OR 1=1 --"
    const where = listWhere({ status: ['running', 'failed'], workflowId: hostile, since: 5, labels: { [hostile]: hostile } })
    expect(where.sql).not.toContain(hostile)
    expect(where.params).toEqual(['running', 'failed', hostile, 5, hostile, hostile])
    expect(where.sql).toBe(listWhere({ status: ['a', 'b'] as never, workflowId: 'w', since: 1, labels: { k: 'v' } }).sql)
  })

  it('one status or several; an empty list matches nothing', () => {
    expect(listWhere({ status: 'running' })).toEqual({ sql: 'WHERE status IN (?)', params: ['running'] })
    expect(listWhere({ status: [] })).toEqual({ sql: 'WHERE 0', params: [] })
  })

  it('prune takes finished runs before the bound, with labels', () => {
    const where = pruneWhere(100, { keep: 'no' })
    expect(where.sql).toMatch(/^WHERE finished_at IS NOT NULL AND finished_at < \? AND EXISTS/)
    expect(where.params).toEqual([100, 'keep', 'no'])
  })
})
