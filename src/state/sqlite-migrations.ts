/**
 * Versioned schema of the SQLite backend, applied in order on open and recorded in
 * `schema_migrations`. A shipped migration never changes: add a new one.
 *
 * STRICT tables so a wrong type fails instead of being stored as text; ids are INTEGER (64-bit, read
 * back as BigInt); the composite-key tables are WITHOUT ROWID (the key is the row's only address).
 * `seq` columns are indexed for the sync engine's "changed since" scans.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'compacted state, mappings, quarantine',
    sql: `
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
INSERT INTO meta (name, value) VALUES ('change_seq', 0);

CREATE TABLE assignment_scores (
  assignment_id INTEGER NOT NULL,
  student_id INTEGER NOT NULL,
  course_id INTEGER,
  submission_id INTEGER,
  score REAL,
  grade TEXT,
  points_possible REAL,
  grading_complete INTEGER,
  muted INTEGER NOT NULL,
  grader_id INTEGER,
  instant INTEGER NOT NULL,
  fp TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (assignment_id, student_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX assignment_scores_student ON assignment_scores (student_id, assignment_id);
CREATE INDEX assignment_scores_seq ON assignment_scores (seq);

CREATE TABLE course_scores (
  course_id INTEGER NOT NULL,
  student_id INTEGER NOT NULL,
  current_score REAL,
  final_score REAL,
  unposted_current_score REAL,
  unposted_final_score REAL,
  workflow_state TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (course_id, student_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX course_scores_student ON course_scores (student_id, course_id);
CREATE INDEX course_scores_seq ON course_scores (seq);

CREATE TABLE course_overrides (
  course_id INTEGER NOT NULL,
  student_id INTEGER NOT NULL,
  grading_period_id INTEGER NOT NULL, -- -1: no grading period
  override_score REAL,
  instant INTEGER NOT NULL,
  fp TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (course_id, student_id, grading_period_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX course_overrides_student ON course_overrides (student_id, course_id);
CREATE INDEX course_overrides_seq ON course_overrides (seq);

CREATE TABLE student_sis_ids (
  student_id INTEGER PRIMARY KEY,
  student_sis_id TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp TEXT NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
CREATE INDEX student_sis_ids_seq ON student_sis_ids (seq);

CREATE TABLE course_sis_ids (
  course_id INTEGER PRIMARY KEY,
  course_sis_id TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp TEXT NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
CREATE INDEX course_sis_ids_seq ON course_sis_ids (seq);

CREATE TABLE course_root_accounts (
  course_id INTEGER PRIMARY KEY,
  root_account_id INTEGER NOT NULL,
  instant INTEGER NOT NULL,
  fp TEXT NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
CREATE INDEX course_root_accounts_seq ON course_root_accounts (seq);

CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  position TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  raw TEXT NOT NULL,
  raw_sha256 TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  -- a redelivered message (same source, position and text) is stored once
  UNIQUE (source, position, raw_sha256)
) STRICT;
`,
  },
  {
    version: 2,
    name: 'sync: schedule state, runs, batches, acknowledged-view ledger, cursors, held rows, resend',
    // See src/sync/store.ts for what each table means. Ids are INTEGER as in the state tables; times
    // are epoch milliseconds. Key columns k1, k2, k3 of a feed row: (assignment_id, student_id, -1)
    // or (course_id, student_id, grading_period_id or -1).
    sql: `
-- course expansions (a course's SIS id or root account changed, resend --course) read a course's rows
CREATE INDEX assignment_scores_course ON assignment_scores (course_id);

CREATE TABLE schedule_state (
  schedule_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('enabled', 'suspended')),
  changed_by TEXT NOT NULL,
  changed_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sync_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  schedule_id TEXT NOT NULL,
  trigger_type TEXT NOT NULL CHECK (trigger_type IN ('scheduled', 'manual', 'catch_up')),
  triggered_by TEXT NOT NULL,
  scheduled_for INTEGER, -- the occurrence; NULL for manual runs
  started_at INTEGER NOT NULL,
  locked_at INTEGER, -- when the run took its target's lock
  finished_at INTEGER,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
  target TEXT NOT NULL,
  scope TEXT NOT NULL, -- root account id, or '*'
  batch_id TEXT,
  batch_location TEXT,
  rows_by TEXT, -- JSON
  held_by TEXT, -- JSON
  error TEXT,
  -- each occurrence runs or is skipped once, whoever gets there first (NULLs never collide)
  UNIQUE (schedule_id, scheduled_for)
) STRICT;
CREATE INDEX sync_runs_schedule ON sync_runs (schedule_id, id);
CREATE INDEX sync_runs_target_status ON sync_runs (target, status);

-- one row per SIS target: epoch counts resend --all requests, so a run that started before one
-- does not move the cursor the request reset
CREATE TABLE sync_targets (
  target TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL
) STRICT;

-- the lease that keeps runs to one SIS target from overlapping
CREATE TABLE sync_locks (
  target TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sync_batches (
  id TEXT PRIMARY KEY,
  target TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  schedule_id TEXT NOT NULL,
  scope TEXT NOT NULL,
  format TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('building', 'pending', 'acked', 'abandoned')),
  watermark INTEGER NOT NULL, -- the cursor moves here on ack
  epoch INTEGER NOT NULL,
  queue_mark INTEGER NOT NULL, -- resend queue entries up to this id were examined
  row_count INTEGER,
  rows_by TEXT,
  held_by TEXT,
  location TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
) STRICT;
CREATE INDEX sync_batches_target_status ON sync_batches (target, status);

CREATE TABLE sync_batch_rows (
  batch_id TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  ordinal INTEGER, -- position in the file (SPEC §6 order), set when the batch is sealed
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  root_account_id INTEGER,
  course_id INTEGER NOT NULL,
  course_sis_id TEXT NOT NULL,
  student_id INTEGER NOT NULL,
  student_sis_id TEXT NOT NULL,
  assignment_id INTEGER,
  grading_period_id INTEGER,
  score REAL,
  grade TEXT,
  points_possible REAL,
  current_score REAL,
  final_score REAL,
  override_score REAL,
  grading_complete INTEGER,
  changed_at INTEGER NOT NULL,
  PRIMARY KEY (batch_id, record_type, k1, k2, k3)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX sync_batch_rows_ordinal ON sync_batch_rows (batch_id, ordinal);

-- the acknowledged-view ledger: what each SIS target has, per key
CREATE TABLE sync_acked (
  target TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  course_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  acked_at INTEGER NOT NULL,
  PRIMARY KEY (target, record_type, k1, k2, k3)
) STRICT, WITHOUT ROWID;
CREATE INDEX sync_acked_course ON sync_acked (target, course_id);

CREATE TABLE sync_cursor (
  target TEXT NOT NULL,
  scope TEXT NOT NULL,
  watermark INTEGER NOT NULL,
  PRIMARY KEY (target, scope)
) STRICT;

CREATE TABLE sync_held (
  target TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  course_id INTEGER,
  root_account_id INTEGER,
  reason TEXT NOT NULL,
  since INTEGER NOT NULL,
  changed_at INTEGER NOT NULL,
  PRIMARY KEY (target, record_type, k1, k2, k3)
) STRICT, WITHOUT ROWID;
CREATE INDEX sync_held_reason ON sync_held (target, reason);

CREATE TABLE sync_resend (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  selector TEXT NOT NULL CHECK (selector IN ('course', 'assignment', 'all')),
  selector_id INTEGER,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  unacked INTEGER NOT NULL -- ledger rows removed
) STRICT;

-- keys to examine again whatever their change number (resend --course / --assignment)
CREATE TABLE sync_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  course_id INTEGER
) STRICT;
CREATE INDEX sync_queue_target ON sync_queue (target, id);

-- scratch: the keys one run examines, deduplicated
CREATE TABLE sync_candidates (
  run_id INTEGER NOT NULL,
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  PRIMARY KEY (run_id, record_type, k1, k2, k3)
) STRICT, WITHOUT ROWID;
`,
  },
  {
    version: 3,
    name: 'sync: batches kept as their file and ledger entries; candidates gathered in file order',
    // A batch is now persisted as the bytes of its file, in pieces (sync_batch_chunks), and the ledger
    // entry of each of its rows (sync_batch_keys), numbered in file order: delivered again after a crash,
    // it is the very same bytes, with no feed rows to store, sort and read back. The candidates of a run
    // are gathered, with their state, into a TEMP table of the connection, one per run (created by
    // src/state/sqlite-sync.ts), so sync_candidates goes. A batch left building or pending by the
    // previous version kept feed rows, which this one cannot deliver: it is abandoned, and its rows go
    // out with the next run (the cursor never moved past them). The ledger, the largest table (a row
    // per key and target), is rewritten slimmer: the target by a number (sync_targets.id) and the run
    // that delivered the row instead of two long texts per row, which halves what an acknowledgement
    // writes. Its index by course goes too: every acknowledgement paid for it, for the sake of
    // `resend --course`, a rare command, which now reads the target's ledger through instead.
    sql: `
CREATE TABLE sync_targets_v3 (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL UNIQUE,
  epoch INTEGER NOT NULL
) STRICT;
INSERT INTO sync_targets_v3 (target, epoch) SELECT target, epoch FROM sync_targets ORDER BY target;
INSERT INTO sync_targets_v3 (target, epoch)
  SELECT DISTINCT target, 0 FROM sync_acked WHERE target NOT IN (SELECT target FROM sync_targets_v3) ORDER BY target;
DROP TABLE sync_targets;
ALTER TABLE sync_targets_v3 RENAME TO sync_targets;

CREATE TABLE sync_acked_v3 (
  target_id INTEGER NOT NULL, -- sync_targets.id
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  course_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  run_id INTEGER NOT NULL, -- the run whose batch delivered it
  PRIMARY KEY (target_id, record_type, k1, k2, k3)
) STRICT, WITHOUT ROWID;
INSERT INTO sync_acked_v3 (target_id, record_type, k1, k2, k3, course_id, digest, op, run_id)
  SELECT t.id, a.record_type, a.k1, a.k2, a.k3, a.course_id, a.digest, a.op, coalesce(b.run_id, 0)
  FROM sync_acked a JOIN sync_targets t ON t.target = a.target LEFT JOIN sync_batches b ON b.id = a.batch_id
  ORDER BY 1, 2, 3, 4, 5;
DROP TABLE sync_acked;
ALTER TABLE sync_acked_v3 RENAME TO sync_acked;

UPDATE sync_batches SET status = 'abandoned', finished_at = created_at WHERE status IN ('building', 'pending');
DROP TABLE sync_batch_rows;
DROP TABLE sync_candidates;

CREATE TABLE sync_batch_keys (
  batch_id TEXT NOT NULL,
  ordinal INTEGER NOT NULL, -- position in the file, from 1
  record_type TEXT NOT NULL,
  k1 INTEGER NOT NULL,
  k2 INTEGER NOT NULL,
  k3 INTEGER NOT NULL,
  course_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  op TEXT NOT NULL,
  PRIMARY KEY (batch_id, ordinal)
) STRICT, WITHOUT ROWID;

-- pieces of about 1 MiB: a rowid table, as SQLite advises for large values
CREATE TABLE sync_batch_chunks (
  batch_id TEXT NOT NULL,
  n INTEGER NOT NULL, -- from 1, in file order
  bytes BLOB NOT NULL,
  UNIQUE (batch_id, n)
) STRICT;
`,
  },
  {
    version: 4,
    name: 'state: fingerprints stored as 32 bytes',
    // The fingerprint (sha256 of the record) was stored as 64 hex digits: a fifth of an assignment
    // score's row. As bytes, rows are smaller, so a fold's transaction dirties, and its commit writes,
    // fewer pages. Byte order is the order of the lowercase hex digits, so the fold's rule is unchanged.
    // Each state table is rebuilt with its indexes.
    sql: `
CREATE TABLE assignment_scores_v4 (
  assignment_id INTEGER NOT NULL,
  student_id INTEGER NOT NULL,
  course_id INTEGER,
  submission_id INTEGER,
  score REAL,
  grade TEXT,
  points_possible REAL,
  grading_complete INTEGER,
  muted INTEGER NOT NULL,
  grader_id INTEGER,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (assignment_id, student_id)
) STRICT, WITHOUT ROWID;
INSERT INTO assignment_scores_v4 (assignment_id, student_id, course_id, submission_id, score, grade, points_possible, grading_complete, muted, grader_id, instant, fp, seq)
  SELECT assignment_id, student_id, course_id, submission_id, score, grade, points_possible, grading_complete, muted, grader_id, instant, unhex(fp), seq FROM assignment_scores;
DROP TABLE assignment_scores;
ALTER TABLE assignment_scores_v4 RENAME TO assignment_scores;
CREATE INDEX assignment_scores_student ON assignment_scores (student_id, assignment_id);
CREATE INDEX assignment_scores_seq ON assignment_scores (seq);
CREATE INDEX assignment_scores_course ON assignment_scores (course_id);

CREATE TABLE course_scores_v4 (
  course_id INTEGER NOT NULL,
  student_id INTEGER NOT NULL,
  current_score REAL,
  final_score REAL,
  unposted_current_score REAL,
  unposted_final_score REAL,
  workflow_state TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (course_id, student_id)
) STRICT, WITHOUT ROWID;
INSERT INTO course_scores_v4 (course_id, student_id, current_score, final_score, unposted_current_score, unposted_final_score, workflow_state, instant, fp, seq)
  SELECT course_id, student_id, current_score, final_score, unposted_current_score, unposted_final_score, workflow_state, instant, unhex(fp), seq FROM course_scores;
DROP TABLE course_scores;
ALTER TABLE course_scores_v4 RENAME TO course_scores;
CREATE INDEX course_scores_student ON course_scores (student_id, course_id);
CREATE INDEX course_scores_seq ON course_scores (seq);

CREATE TABLE course_overrides_v4 (
  course_id INTEGER NOT NULL,
  student_id INTEGER NOT NULL,
  grading_period_id INTEGER NOT NULL, -- -1: no grading period
  override_score REAL,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (course_id, student_id, grading_period_id)
) STRICT, WITHOUT ROWID;
INSERT INTO course_overrides_v4 (course_id, student_id, grading_period_id, override_score, instant, fp, seq)
  SELECT course_id, student_id, grading_period_id, override_score, instant, unhex(fp), seq FROM course_overrides;
DROP TABLE course_overrides;
ALTER TABLE course_overrides_v4 RENAME TO course_overrides;
CREATE INDEX course_overrides_student ON course_overrides (student_id, course_id);
CREATE INDEX course_overrides_seq ON course_overrides (seq);

CREATE TABLE student_sis_ids_v4 (
  student_id INTEGER PRIMARY KEY,
  student_sis_id TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
INSERT INTO student_sis_ids_v4 (student_id, student_sis_id, instant, fp, seq)
  SELECT student_id, student_sis_id, instant, unhex(fp), seq FROM student_sis_ids;
DROP TABLE student_sis_ids;
ALTER TABLE student_sis_ids_v4 RENAME TO student_sis_ids;
CREATE INDEX student_sis_ids_seq ON student_sis_ids (seq);

CREATE TABLE course_sis_ids_v4 (
  course_id INTEGER PRIMARY KEY,
  course_sis_id TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
INSERT INTO course_sis_ids_v4 (course_id, course_sis_id, instant, fp, seq)
  SELECT course_id, course_sis_id, instant, unhex(fp), seq FROM course_sis_ids;
DROP TABLE course_sis_ids;
ALTER TABLE course_sis_ids_v4 RENAME TO course_sis_ids;
CREATE INDEX course_sis_ids_seq ON course_sis_ids (seq);

CREATE TABLE course_root_accounts_v4 (
  course_id INTEGER PRIMARY KEY,
  root_account_id INTEGER NOT NULL,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
INSERT INTO course_root_accounts_v4 (course_id, root_account_id, instant, fp, seq)
  SELECT course_id, root_account_id, instant, unhex(fp), seq FROM course_root_accounts;
DROP TABLE course_root_accounts;
ALTER TABLE course_root_accounts_v4 RENAME TO course_root_accounts;
CREATE INDEX course_root_accounts_seq ON course_root_accounts (seq);
`,
  },
  {
    version: 5,
    name: 'quarantine: the exact bytes of a message that is not UTF-8',
    // raw stays the text (U+FFFD where the bytes are not UTF-8), for listing and grep; raw_bytes holds
    // the bytes exactly when they differ from it, so a re-drive reads what was received (NULL: raw is exact).
    sql: `ALTER TABLE quarantine ADD COLUMN raw_bytes BLOB;`,
  },
  {
    version: 6,
    name: 'admin page sessions and the secret that signs them',
    // service_secrets: generated once, shared by every process on the store (the session secret when
    // GRADESTREAM_SESSION_SECRET is unset). admin_sessions: keyed by the SHA-256 of the session id (the
    // cookie holds the id, the store does not), with the digest of the token signed in with: a session
    // holds only while the tokens file still has that digest.
    sql: `
CREATE TABLE service_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL, created_at INTEGER NOT NULL) STRICT;
CREATE TABLE admin_sessions (
  id_hash BLOB PRIMARY KEY,
  token_digest BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
`,
  },
  {
    version: 7,
    name: 'assignment names',
    // A mapping like the SIS ids: the name Canvas gives an assignment (grade_change's assignment_name, or a
    // read of the REST API), latest wins; the OneRoster lineItems title.
    sql: `
CREATE TABLE assignment_names (
  assignment_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  instant INTEGER NOT NULL,
  fp BLOB NOT NULL,
  seq INTEGER NOT NULL
) STRICT;
CREATE INDEX assignment_names_seq ON assignment_names (seq);
`,
  },
  {
    version: 8,
    name: 'reconciliations in the run history',
    // A reconciliation with Canvas is recorded like a sync run (kind 'reconcile', target 'canvas:URL'),
    // with what it found (report: drift by record type and per course) as JSON.
    sql: `
ALTER TABLE sync_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'sync' CHECK (kind IN ('sync', 'reconcile'));
ALTER TABLE sync_runs ADD COLUMN report TEXT;
`,
  },
];
