/** `list`: runs matching the port's filters, newest first. @module */
import type { RunFilter, RunSummary } from '../../../core/store.js'
import { SUMMARY_COLUMNS, summaryOf } from '../codec.js'
import type { SummaryRow } from '../codec.js'
import type { PostgresConnection } from '../connection.js'

/** Runs matching `filter`, newest first (runs created at the same time: the latest recorded first). */
export async function list(db: PostgresConnection, filter: RunFilter = {}): Promise<readonly RunSummary[]> {
  const where: string[] = []
  const values: unknown[] = []
  const param = (value: unknown): string => {
    values.push(value)
    return `$${values.length}`
  }
  if (filter.status !== undefined) where.push(`status = ANY(${param(typeof filter.status === 'string' ? [filter.status] : [...filter.status])}::text[])`)
  if (filter.workflowId !== undefined) where.push(`workflow_id = ${param(filter.workflowId)}`)
  if (filter.since !== undefined) where.push(`created_at >= ${param(filter.since)}`)
  // Containment: the run's labels hold every label asked for (served by the GIN index).
  if (filter.labels !== undefined) where.push(`labels @> ${param(JSON.stringify(filter.labels))}::jsonb`)
  // `LIMIT NULL` is no limit: what Infinity asks for (a bigint parameter cannot hold it).
  const given = filter.limit ?? 100
  const limit = `${param(given === Infinity ? null : given)}::bigint`
  const rows = await db.rows<SummaryRow>(
    'list',
    `SELECT ${SUMMARY_COLUMNS} FROM ${db.tables.runs} ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY created_at DESC, key DESC LIMIT ${limit}`,
    values,
  )
  return rows.map(summaryOf)
}
