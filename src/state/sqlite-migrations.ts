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
];
