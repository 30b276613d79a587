import { hash } from 'node:crypto';
import { NO_GRADING_PERIOD } from '../state/tables.js';
import type { FeedRow } from './feed-row.js';

/**
 * The SIS view of one key (SPEC §3) and what a sync does about it, as pure functions of the key's
 * state, its mappings and the view the SIS target last acknowledged. The delta engine (delta.ts) feeds
 * candidates in; the stores only read and write rows.
 *
 * Keys: an assignment row is (assignment_id, student_id); a course row is (course_id, student_id,
 * grading_period_id), "no grading period" being NO_GRADING_PERIOD (-1) as in the state tables. They
 * are kept as (record_type, k1, k2, k3), k3 = -1 on assignment rows.
 */

export type RecordType = FeedRow['record_type'];
export type Op = FeedRow['op'];

/**
 * Why a pending change is not sent, in the order one is reported when several apply: first what an
 * admin can fix (a course, then a student, without its SIS id), then what is the teacher's choice
 * (an unposted grade). A row held for one reason may still be held for the next once it clears.
 */
export const HELD_REASONS = ['course_unmapped', 'student_unmapped', 'unposted'] as const;
export type HeldReason = (typeof HELD_REASONS)[number];
export type HeldCounts = Record<HeldReason, number>;

export const NO_KEY = NO_GRADING_PERIOD;

export interface SyncKey {
  record_type: RecordType;
  k1: string;
  k2: string;
  k3: string;
}

export const keyText = (k: SyncKey): string => `${k.record_type}/${k.k1}/${k.k2}/${k.k3}`;

/** What the target acknowledged for a key. */
export interface Acked {
  digest: string;
  op: Op;
}

export interface Mappings {
  course_sis_id: string | null;
  student_sis_id: string | null;
  root_account_id: string | null;
}

export interface AssignmentState {
  course_id: string | null;
  score: number | null;
  grade: string | null;
  points_possible: number | null;
  grading_complete: boolean | null;
  muted: boolean;
  instant: number;
}

export interface CourseScoreState {
  current_score: number | null;
  final_score: number | null;
  workflow_state: string;
  instant: number;
}

export interface OverrideState {
  override_score: number | null;
  instant: number;
}

/** One key to examine, with everything its view depends on (null: no such record). */
export type Candidate = SyncKey &
  Mappings & {
    acked: Acked | null;
    /** The key's held row, if any. */
    held: { reason: HeldReason; changed_at: number; root_account_id: string | null } | null;
  } & (
    | { record_type: 'assignment'; assignment: AssignmentState | null }
    | { record_type: 'course'; score: CourseScoreState | null; override: OverrideState | null }
  );

export type Decision =
  /** The view differs from what the target acknowledged: this row goes out. */
  | { kind: 'send'; row: FeedRow; digest: string }
  /** A pending change that is not visible. */
  | { kind: 'hold'; reason: HeldReason; course_id: string | null; changed_at: number }
  /** Nothing to send and nothing pending (or no record at all). */
  | { kind: 'quiet' };

const QUIET: Decision = { kind: 'quiet' };

/**
 * The digest the ledger compares: every column but changed_at (the same values sent again because an
 * event was re-timed are not a change). Canonical JSON, so the same view gives the same digest in every
 * process and backend; 128 bits of sha256.
 */
export function viewDigest(row: FeedRow): string {
  // FEED_COLUMNS but changed_at, written out: this runs once per row sent (a test holds it to the list).
  const values = [
    row.record_type,
    row.op,
    row.root_account_id,
    row.course_id,
    row.course_sis_id,
    row.student_id,
    row.student_sis_id,
    row.assignment_id,
    row.grading_period_id,
    row.score,
    row.grade,
    row.points_possible,
    row.current_score,
    row.final_score,
    row.override_score,
    row.grading_complete,
  ];
  return hash('sha256', JSON.stringify(values), 'hex').slice(0, 32);
}

const unchanged = (acked: Acked | null, digest: string): boolean => acked !== null && acked.op === 'upsert' && acked.digest === digest;

export function decide(c: Candidate): Decision {
  return c.record_type === 'assignment' ? assignmentDecision(c) : courseDecision(c);
}

function assignmentDecision(c: Candidate & { record_type: 'assignment' }): Decision {
  const a = c.assignment;
  if (a === null) return QUIET;
  const mappingProblem: HeldReason | null =
    a.course_id === null || c.course_sis_id === null ? 'course_unmapped' : c.student_sis_id === null ? 'student_unmapped' : null;
  if (mappingProblem !== null) {
    // A key the target has never acknowledged under these ids: its whole view is pending.
    return { kind: 'hold', reason: mappingProblem, course_id: a.course_id, changed_at: a.instant };
  }
  const row: FeedRow = {
    record_type: 'assignment',
    op: 'upsert',
    root_account_id: c.root_account_id,
    course_id: a.course_id!,
    course_sis_id: c.course_sis_id!,
    student_id: c.k2,
    student_sis_id: c.student_sis_id!,
    assignment_id: c.k1,
    grading_period_id: null,
    score: a.score,
    grade: a.grade,
    points_possible: a.points_possible,
    current_score: null,
    final_score: null,
    override_score: null,
    // Canvas leaves grading_complete out of some events; not known to be complete is not complete.
    grading_complete: a.grading_complete ?? false,
    changed_at: a.instant,
  };
  const digest = viewDigest(row);
  if (unchanged(c.acked, digest)) return QUIET; // also an unposted grade hidden again with the same values
  if (a.muted) return { kind: 'hold', reason: 'unposted', course_id: a.course_id, changed_at: a.instant };
  return { kind: 'send', row, digest };
}

function courseDecision(c: Candidate & { record_type: 'course' }): Decision {
  const period = c.k3 === NO_KEY ? null : c.k3;
  const { score, override } = c;
  // The course score (no grading period) and the override without one make one row; an override with
  // a grading period is a row of its own.
  if (period === null ? score === null && override === null : override === null) return QUIET;
  const courseId = c.k1;
  const mapped = c.course_sis_id !== null && c.student_sis_id !== null;
  // No course score record at all counts as active (an override can come first).
  const active = score === null || score.workflow_state === 'active';
  const lastInstant = Math.max(score?.instant ?? Number.NEGATIVE_INFINITY, override?.instant ?? Number.NEGATIVE_INFINITY);
  const base = {
    record_type: 'course' as const,
    root_account_id: c.root_account_id,
    course_id: courseId,
    course_sis_id: c.course_sis_id!,
    student_id: c.k2,
    student_sis_id: c.student_sis_id!,
    assignment_id: null,
    grading_period_id: period,
    grade: null,
    points_possible: null,
    grading_complete: null,
  };

  if (!active) {
    // Deleted: the SIS is told once, if it has the row; a row it never had stays unsent.
    if (!mapped || c.acked === null || c.acked.op !== 'upsert') return QUIET;
    const row: FeedRow = {
      ...base,
      op: 'delete',
      score: null,
      current_score: null,
      final_score: null,
      override_score: null,
      changed_at: lastInstant,
    };
    return { kind: 'send', row, digest: viewDigest(row) };
  }

  const current = period === null ? (score?.current_score ?? null) : null;
  const final = period === null ? (score?.final_score ?? null) : null;
  const overrideScore = override?.override_score ?? null;
  // Nothing to say (a cleared override, never sent): not a change for the SIS, not held.
  const empty = current === null && final === null && overrideScore === null;
  if (empty && c.acked === null) return QUIET;
  if (!mapped) {
    const reason: HeldReason = c.course_sis_id === null ? 'course_unmapped' : 'student_unmapped';
    return { kind: 'hold', reason, course_id: courseId, changed_at: lastInstant };
  }
  const row: FeedRow = {
    ...base,
    op: 'upsert',
    score: overrideScore ?? final,
    current_score: current,
    final_score: final,
    override_score: overrideScore,
    // A grading-period row is the override alone; the course row is the later of score and override.
    changed_at: period === null ? lastInstant : override!.instant,
  };
  const digest = viewDigest(row);
  if (unchanged(c.acked, digest)) return QUIET;
  return { kind: 'send', row, digest };
}

/** The key of a feed row. */
export function keyOfRow(row: FeedRow): SyncKey {
  return row.record_type === 'assignment'
    ? { record_type: 'assignment', k1: row.assignment_id!, k2: row.student_id, k3: NO_KEY }
    : { record_type: 'course', k1: row.course_id, k2: row.student_id, k3: row.grading_period_id ?? NO_KEY };
}

export const zeroHeld = (): HeldCounts => ({ course_unmapped: 0, student_unmapped: 0, unposted: 0 });

export interface RowsBy {
  assignment: { upsert: number; delete: number };
  course: { upsert: number; delete: number };
}

export const zeroRowsBy = (): RowsBy => ({ assignment: { upsert: 0, delete: 0 }, course: { upsert: 0, delete: 0 } });

export const totalRows = (r: RowsBy): number => r.assignment.upsert + r.assignment.delete + r.course.upsert + r.course.delete;
