/** The qualified names of the store's tables in its schema. @module */

/** Quoted, schema-qualified table names, ready to splice into SQL text. */
export interface Tables {
  /** The quoted schema name. */
  readonly schema: string
  readonly runs: string
  readonly journal: string
  readonly migrations: string
}

/**
 * The table names in `schema`. The name was checked to be a plain identifier when the options were
 * resolved; quoting it still keeps its case and makes a reserved word (`user`) usable.
 */
export function tablesOf(schema: string): Tables {
  const quoted = `"${schema.replaceAll('"', '""')}"`
  return { schema: quoted, runs: `${quoted}.runs`, journal: `${quoted}.journal`, migrations: `${quoted}.migrations` }
}
