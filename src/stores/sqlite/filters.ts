/**
 * The WHERE clauses of `list` and `prune`, built from a filter as SQL text with `?` placeholders
 * and the values to bind, never with values spliced into the text (a label is the caller's text).
 * The text depends only on the filter's shape, so the compiled statement is reused per shape.
 * @module
 */
import type { RunFilter, StoredRunStatus } from '../../core/store.js'

/** A WHERE clause and its values, in placeholder order. */
export interface Where {
  readonly sql: string
  readonly params: readonly unknown[]
}

/** Accumulates conditions joined by AND. */
class Conditions {
  readonly #parts: string[] = []
  readonly #params: unknown[] = []

  add(sql: string, ...params: readonly unknown[]): void {
    this.#parts.push(sql)
    this.#params.push(...params)
  }

  /** Runs carrying every label of `labels` (any key text: matched through json_each, not a JSON path). */
  labels(labels: Readonly<Record<string, string>> | undefined): void {
    for (const [key, value] of Object.entries(labels ?? {})) {
      this.add("EXISTS (SELECT 1 FROM json_each(runs.labels) AS l WHERE l.key = ? AND l.type = 'text' AND l.value = ?)", key, value)
    }
  }

  where(): Where {
    return { sql: this.#parts.length === 0 ? '' : `WHERE ${this.#parts.join(' AND ')}`, params: this.#params }
  }
}

/** The clause of {@link RunFilter} (limit aside). */
export function listWhere(filter: RunFilter): Where {
  const c = new Conditions()
  if (filter.status !== undefined) {
    const statuses: readonly StoredRunStatus[] = typeof filter.status === 'string' ? [filter.status] : filter.status
    // An empty list matches nothing, as `statusMatches` does.
    c.add(statuses.length === 0 ? '0' : `status IN (${statuses.map(() => '?').join(', ')})`, ...statuses)
  }
  if (filter.workflowId !== undefined) c.add('workflow_id = ?', filter.workflowId)
  if (filter.since !== undefined) c.add('created_at >= ?', filter.since)
  c.labels(filter.labels)
  return c.where()
}

/** The clause of the runs `prune` removes: finished before `finishedBefore`, carrying `labels`. */
export function pruneWhere(finishedBefore: number, labels: Readonly<Record<string, string>> | undefined): Where {
  const c = new Conditions()
  c.add('finished_at IS NOT NULL AND finished_at < ?', finishedBefore)
  c.labels(labels)
  return c.where()
}
