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
];
