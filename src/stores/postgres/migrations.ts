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
  {
    version: 2,
    name: 'append in one round trip',
    // The whole append (lock, fence, seq check, insert, finish) as one function call, so a group
    // commit costs one round trip instead of five (BEGIN, lock, next seq, insert, COMMIT): a
    // durable run's dependents wait for it. In READ COMMITTED each statement of a PL/pgSQL
    // function takes a fresh snapshot, so the last seq read after the row locks sees every append
    // that committed while this one waited for them.
    sql: (t) => `
      CREATE FUNCTION ${t.schema}.tw_append(
        b_run text[], b_epoch integer[], b_first_seq integer[],
        e_batch integer[], e_seq integer[], e_kind smallint[], e_task text[], e_attempt integer[], e_at bigint[], e_data text[], e_added text[],
        f_batch integer[], f_status text[], f_counts text[], f_at bigint[]
      ) RETURNS text[] LANGUAGE plpgsql AS $fn$
      DECLARE
        fenced text[] := '{}';
        keys bigint[] := '{}';
        run record;
        last_seq integer;
      BEGIN
        PERFORM 1 FROM ${t.runs} WHERE run_id = ANY(b_run) ORDER BY key FOR UPDATE;
        FOR i IN 1 .. coalesce(array_length(b_run, 1), 0) LOOP
          SELECT key, status, lease_epoch INTO run FROM ${t.runs} WHERE run_id = b_run[i];
          IF NOT FOUND OR run.status <> 'running' OR run.lease_epoch <> b_epoch[i] THEN
            fenced := fenced || b_run[i];
            keys := keys || NULL::bigint;
            CONTINUE;
          END IF;
          SELECT seq INTO last_seq FROM ${t.journal} WHERE run_key = run.key ORDER BY seq DESC LIMIT 1;
          IF b_first_seq[i] IS NOT NULL AND b_first_seq[i] <> coalesce(last_seq, 0) + 1 THEN
            RAISE EXCEPTION 'journal of run "%": entry % appended where % was due', b_run[i], b_first_seq[i], coalesce(last_seq, 0) + 1 USING ERRCODE = 'TWSEQ';
          END IF;
          keys := keys || run.key;
        END LOOP;
        INSERT INTO ${t.journal} (run_key, seq, kind, task_id, attempt, at, data, added)
          SELECT keys[u.b], u.seq, u.kind, u.task, u.attempt, u.at, u.data, u.added
          FROM unnest(e_batch, e_seq, e_kind, e_task, e_attempt, e_at, e_data, e_added) AS u(b, seq, kind, task, attempt, at, data, added)
          WHERE keys[u.b] IS NOT NULL;
        UPDATE ${t.runs} r SET status = f.status, counts = f.counts::jsonb, finished_at = f.at, lease_owner = NULL, lease_expires_at = NULL
          FROM unnest(f_batch, f_status, f_counts, f_at) AS f(b, status, counts, at)
          WHERE keys[f.b] IS NOT NULL AND r.key = keys[f.b];
        RETURN fenced;
      END
      $fn$;
    `,
  },
]
