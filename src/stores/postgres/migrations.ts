/**
 * The schema of the PostgreSQL store as numbered migrations, append-only: a released migration
 * is never edited; a change is a new number. Kept as TypeScript strings rather than `.sql` files
 * so the compiled package carries them without a copy step.
 *
 * Design notes for migration 1:
 * - `runs.key` (a bigint identity) is what the journal references, not the run id: journal rows
 *   stay narrow, and a run id used again after a prune gets a fresh key, so no leftover entry can
 *   ever attach to the new run.
 * - The journal has no foreign key to `runs`: every append already holds the run's row lock, and a
 *   foreign key would add a lookup per inserted row on the hottest path. Prune deletes both in one
 *   statement.
 * - Definition, inputs, settings and entry data are `text`, not `jsonb`: the port promises the
 *   exact text back (jsonb would reorder keys and drop duplicate ones). Labels and counts are
 *   `jsonb`, because list filters labels by containment.
 * - Times are bigint epoch ms, as the port passes them (the caller's clock, possibly a manual one).
 * @module
 */
import type { Tables } from './tables.js'

/** One step of the schema. */
export interface Migration {
  /** 1, 2, 3…: applied in this order, each once. */
  readonly version: number
  readonly name: string
  /** The statements (no parameters), in the store's schema. */
  readonly sql: (t: Tables) => string
}

/** Every migration, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs and journal',
    sql: (t) => `
      CREATE TABLE ${t.runs} (
        key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id text NOT NULL UNIQUE,
        workflow_id text NOT NULL,
        workflow_hash text NOT NULL,
        definition text NOT NULL,
        inputs text NOT NULL,
        settings text NOT NULL,
        labels jsonb NOT NULL DEFAULT '{}',
        status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'cancelled')),
        created_at bigint NOT NULL,
        finished_at bigint,
        counts jsonb NOT NULL DEFAULT '{}',
        lease_owner text,
        lease_epoch integer NOT NULL DEFAULT 1,
        lease_expires_at bigint
      );
      -- list: newest first, ties by insertion order reversed.
      CREATE INDEX runs_created_idx ON ${t.runs} (created_at DESC, key DESC);
      -- prune: only finished runs are candidates.
      CREATE INDEX runs_finished_idx ON ${t.runs} (finished_at) WHERE finished_at IS NOT NULL;
      -- list and prune by labels (containment, @>).
      CREATE INDEX runs_labels_idx ON ${t.runs} USING gin (labels jsonb_path_ops);
      CREATE TABLE ${t.journal} (
        run_key bigint NOT NULL,
        seq integer NOT NULL,
        kind smallint NOT NULL,
        task_id text,
        attempt integer,
        at bigint NOT NULL,
        data text,
        added text,
        PRIMARY KEY (run_key, seq)
      );
    `,
  },
]
