import type { Migration } from './sqlite-migrations.js';

/**
 * Versioned schema of the PostgreSQL backend, applied in order on open (under an advisory lock, so
 * replicas starting together do not race) and recorded in `schema_migrations`. A shipped migration
 * never changes: add a new one.
 *
 * Ids are BIGINT (read back as decimal strings). `fp` is COLLATE "C" so (instant, fp) compares byte by
 * byte exactly as in SQLite and in JS, whatever the database's default collation. `raw` is bytea:
 * a text column cannot hold U+0000, and a quarantined message may contain anything.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'compacted state, mappings, quarantine',
    sql: `
CREATE SEQUENCE gradestream_change_seq;

CREATE TABLE assignment_scores (
  assignment_id BIGINT NOT NULL,
  student_id BIGINT NOT NULL,
  course_id BIGINT,
  submission_id BIGINT,
  score DOUBLE PRECISION,
  grade TEXT,
  points_possible DOUBLE PRECISION,
  grading_complete BOOLEAN,
  muted BOOLEAN NOT NULL,
  grader_id BIGINT,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (assignment_id, student_id)
);
CREATE INDEX assignment_scores_student ON assignment_scores (student_id, assignment_id);
CREATE INDEX assignment_scores_seq ON assignment_scores (seq);

CREATE TABLE course_scores (
  course_id BIGINT NOT NULL,
  student_id BIGINT NOT NULL,
  current_score DOUBLE PRECISION,
  final_score DOUBLE PRECISION,
  unposted_current_score DOUBLE PRECISION,
  unposted_final_score DOUBLE PRECISION,
  workflow_state TEXT NOT NULL,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (course_id, student_id)
);
CREATE INDEX course_scores_student ON course_scores (student_id, course_id);
CREATE INDEX course_scores_seq ON course_scores (seq);

CREATE TABLE course_overrides (
  course_id BIGINT NOT NULL,
  student_id BIGINT NOT NULL,
  grading_period_id BIGINT NOT NULL, -- -1: no grading period
  override_score DOUBLE PRECISION,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (course_id, student_id, grading_period_id)
);
CREATE INDEX course_overrides_student ON course_overrides (student_id, course_id);
CREATE INDEX course_overrides_seq ON course_overrides (seq);

CREATE TABLE student_sis_ids (
  student_id BIGINT PRIMARY KEY,
  student_sis_id TEXT NOT NULL,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX student_sis_ids_seq ON student_sis_ids (seq);

CREATE TABLE course_sis_ids (
  course_id BIGINT PRIMARY KEY,
  course_sis_id TEXT NOT NULL,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX course_sis_ids_seq ON course_sis_ids (seq);

CREATE TABLE course_root_accounts (
  course_id BIGINT PRIMARY KEY,
  root_account_id BIGINT NOT NULL,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX course_root_accounts_seq ON course_root_accounts (seq);

CREATE TABLE quarantine (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source TEXT NOT NULL,
  position TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  raw BYTEA NOT NULL,
  raw_sha256 TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  -- a redelivered message (same source, position and text) is stored once
  UNIQUE (source, position, raw_sha256)
);
`,
  },
  {
    version: 2,
    name: 'sync: schedule state, runs, batches, acknowledged-view ledger, cursors, held rows, resend',
    // See src/sync/store.ts for what each table means; the same tables as SQLite migration 2, except
    // that runs to one target are kept apart by an advisory lock instead of a lease table. SIS ids in
    // batch rows are COLLATE "C" so the feed sorts by byte (code point) order, as in SQLite and JS.
    sql: `
CREATE INDEX assignment_scores_course ON assignment_scores (course_id);

CREATE TABLE schedule_state (
  schedule_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('enabled', 'suspended')),
  changed_by TEXT NOT NULL,
  changed_at BIGINT NOT NULL
);

CREATE TABLE sync_runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  schedule_id TEXT NOT NULL,
  trigger_type TEXT NOT NULL CHECK (trigger_type IN ('scheduled', 'manual', 'catch_up')),
  triggered_by TEXT NOT NULL,
  scheduled_for BIGINT,
  started_at BIGINT NOT NULL,
  locked_at BIGINT,
  finished_at BIGINT,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
  target TEXT NOT NULL,
  scope TEXT NOT NULL,
  batch_id TEXT,
  batch_location TEXT,
  rows_by TEXT,
  held_by TEXT,
  error TEXT,
  UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX sync_runs_schedule ON sync_runs (schedule_id, id);
CREATE INDEX sync_runs_target_status ON sync_runs (target, status);

CREATE TABLE sync_targets (
  target TEXT PRIMARY KEY,
  epoch BIGINT NOT NULL
);

CREATE TABLE sync_batches (
  id TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  run_id BIGINT NOT NULL,
  schedule_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  format TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('building', 'pending', 'acked', 'abandoned')),
  watermark BIGINT NOT NULL,
  epoch BIGINT NOT NULL,
  queue_mark BIGINT NOT NULL,
  row_count BIGINT,
  rows_by TEXT,
  held_by TEXT,
  location TEXT,
  created_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX sync_batches_target_status ON sync_batches (target, status);

CREATE TABLE sync_batch_rows (
  batch_id TEXT NOT NULL,
  record_type TEXT COLLATE "C" NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  ordinal BIGINT,
  digest TEXT NOT NULL,
  op TEXT COLLATE "C" NOT NULL,
  root_account_id BIGINT,
  course_id BIGINT NOT NULL,
  course_sis_id TEXT COLLATE "C" NOT NULL,
  student_id BIGINT NOT NULL,
  student_sis_id TEXT COLLATE "C" NOT NULL,
  assignment_id BIGINT,
  grading_period_id BIGINT,
  score DOUBLE PRECISION,
  grade TEXT,
  points_possible DOUBLE PRECISION,
  current_score DOUBLE PRECISION,
  final_score DOUBLE PRECISION,
  override_score DOUBLE PRECISION,
  grading_complete BOOLEAN,
  changed_at BIGINT NOT NULL,
  PRIMARY KEY (batch_id, record_type, k1, k2, k3)
);
CREATE UNIQUE INDEX sync_batch_rows_ordinal ON sync_batch_rows (batch_id, ordinal);

CREATE TABLE sync_acked (
  target TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  course_id BIGINT NOT NULL,
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  acked_at BIGINT NOT NULL,
  PRIMARY KEY (target, record_type, k1, k2, k3)
);
CREATE INDEX sync_acked_course ON sync_acked (target, course_id);

CREATE TABLE sync_cursor (
  target TEXT NOT NULL,
  scope TEXT NOT NULL,
  watermark BIGINT NOT NULL,
  PRIMARY KEY (target, scope)
);

CREATE TABLE sync_held (
  target TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  course_id BIGINT,
  root_account_id BIGINT,
  reason TEXT NOT NULL,
  since BIGINT NOT NULL,
  changed_at BIGINT NOT NULL,
  PRIMARY KEY (target, record_type, k1, k2, k3)
);
CREATE INDEX sync_held_reason ON sync_held (target, reason);

CREATE TABLE sync_resend (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  target TEXT NOT NULL,
  selector TEXT NOT NULL CHECK (selector IN ('course', 'assignment', 'all')),
  selector_id BIGINT,
  requested_by TEXT NOT NULL,
  requested_at BIGINT NOT NULL,
  unacked BIGINT NOT NULL
);

CREATE TABLE sync_queue (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  target TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  course_id BIGINT
);
CREATE INDEX sync_queue_target ON sync_queue (target, id);

-- scratch, rebuilt by every run: not worth the write-ahead log
CREATE UNLOGGED TABLE sync_candidates (
  run_id BIGINT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  PRIMARY KEY (run_id, record_type, k1, k2, k3)
);
`,
  },
  {
    version: 3,
    name: 'sync: batches kept as their file and ledger entries; candidates gathered in file order',
    // As SQLite migration 3: a batch is persisted as its file's bytes, in pieces, and the ledger entry
    // of each row; a run's candidates are gathered with their state, numbered in file order, into
    // sync_view (unlogged scratch, like sync_candidates before it). A batch left building or pending
    // by the previous version kept feed rows, which this one cannot deliver: it is abandoned, and its
    // rows go out with the next run. The ledger is rewritten slimmer: the target by a number
    // (sync_targets.id) and the run that delivered the row instead of two long texts per row; its
    // index by course goes (every acknowledgement paid for it, for the rare `resend --course`).
    sql: `
ALTER TABLE sync_targets ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE;
INSERT INTO sync_targets (target, epoch) SELECT DISTINCT target, 0 FROM sync_acked ON CONFLICT (target) DO NOTHING;

CREATE TABLE sync_acked_v3 (
  target_id BIGINT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  course_id BIGINT NOT NULL,
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  run_id BIGINT NOT NULL,
  PRIMARY KEY (target_id, record_type, k1, k2, k3)
);
INSERT INTO sync_acked_v3 (target_id, record_type, k1, k2, k3, course_id, digest, op, run_id)
  SELECT t.id, a.record_type, a.k1, a.k2, a.k3, a.course_id, a.digest, a.op, coalesce(b.run_id, 0)
  FROM sync_acked a JOIN sync_targets t ON t.target = a.target LEFT JOIN sync_batches b ON b.id = a.batch_id;
DROP TABLE sync_acked;
ALTER TABLE sync_acked_v3 RENAME TO sync_acked;
ALTER INDEX sync_acked_v3_pkey RENAME TO sync_acked_pkey;

UPDATE sync_batches SET status = 'abandoned', finished_at = created_at WHERE status IN ('building', 'pending');
DROP TABLE sync_batch_rows;
DROP TABLE sync_candidates;

CREATE TABLE sync_batch_keys (
  batch_id TEXT NOT NULL,
  ordinal BIGINT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  course_id BIGINT NOT NULL,
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  PRIMARY KEY (batch_id, ordinal)
);

CREATE TABLE sync_batch_chunks (
  batch_id TEXT NOT NULL,
  n BIGINT NOT NULL,
  bytes BYTEA NOT NULL,
  PRIMARY KEY (batch_id, n)
);
-- stored out of line as they are: compressing a megabyte of CSV per piece costs more than it saves
ALTER TABLE sync_batch_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

CREATE UNLOGGED TABLE sync_view (
  run_id BIGINT NOT NULL,
  ord BIGINT NOT NULL,
  record_type TEXT NOT NULL,
  k1 BIGINT NOT NULL,
  k2 BIGINT NOT NULL,
  k3 BIGINT NOT NULL,
  course_id BIGINT,
  course_sis_id TEXT,
  student_sis_id TEXT,
  root_account_id BIGINT,
  acked_digest TEXT,
  acked_op TEXT,
  held_reason TEXT,
  held_changed_at BIGINT,
  held_root_account_id BIGINT,
  score DOUBLE PRECISION,
  grade TEXT,
  points_possible DOUBLE PRECISION,
  grading_complete BOOLEAN,
  muted BOOLEAN,
  instant BIGINT,
  current_score DOUBLE PRECISION,
  final_score DOUBLE PRECISION,
  workflow_state TEXT,
  score_instant BIGINT,
  override_score DOUBLE PRECISION,
  override_instant BIGINT,
  PRIMARY KEY (run_id, ord)
);
`,
  },
  {
    version: 4,
    name: 'admin page sessions and the secret that signs them',
    // As SQLite's migration 6: a secret generated once and shared by every replica; sessions keyed by
    // the SHA-256 of their id, holding the digest of the token signed in with.
    sql: `
CREATE TABLE service_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE admin_sessions (
  id_hash BYTEA PRIMARY KEY,
  token_digest BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
`,
  },
  {
    version: 5,
    name: 'assignment names',
    // As SQLite's migration 7.
    sql: `
CREATE TABLE assignment_names (
  assignment_id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  instant BIGINT NOT NULL,
  fp TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX assignment_names_seq ON assignment_names (seq);
`,
  },
  {
    version: 6,
    name: 'reconciliations in the run history',
    // As SQLite's migration 8.
    sql: `
ALTER TABLE sync_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'sync' CHECK (kind IN ('sync', 'reconcile'));
ALTER TABLE sync_runs ADD COLUMN report TEXT;
`,
  },
];
