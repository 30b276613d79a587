import { readGlobalId } from '../intake/ids.js';
import { readGrade, readName, readScore, readSisId } from '../intake/fields.js';
import type { CourseGradeChangeRecord, GradeChangeRecord, GradeOverrideRecord, NormalisedEvent } from '../intake/records.js';
import { IntakeProblem } from '../intake/reasons.js';
import type { TaughtMapping } from '../state/store.js';
import { NO_GRADING_PERIOD } from '../state/tables.js';

/**
 * What Canvas's REST API says of one course, made into the records Live Events would have carried
 * (SPEC §8): the same normalised records, folded by the same rule, at the instant of the answer's Date
 * header (Canvas's clock, as event_time is). Ids are made global with the instance's shard.
 *
 * - each submission with a score or a grade (or whose key the store already holds: a grade removed
 *   since) → grade_change: posted when `posted_at` is set (null is unposted, SPEC §8), grading complete
 *   when graded, points possible and name from its assignment, the student's SIS id from the enrollment;
 * - each student enrollment → course_grade_change (its scores; `deleted` when the enrollment is);
 * - an `override_score` in the grades (Canvas sends one only when Final Grade Override is on and the
 *   student has an override) → grade_override, for the course and, per grading period, from that
 *   period's grades; its absence means no override in effect, so an override the store holds for a
 *   student Canvas answered for, and Canvas no longer shows, is folded as cleared (null);
 * - mappings: every enrolled student's SIS id and every assignment's name, taught directly.
 */
export interface CanvasCourseInfo {
  id: string;
  sis_course_id?: string | null;
  root_account_id: string;
}

export interface CanvasAssignmentInfo {
  id: string;
  name?: string | null;
  points_possible?: number | null;
}

export interface CanvasSubmissionInfo {
  id: string;
  assignment_id: string;
  user_id: string;
  score?: number | null;
  grade?: string | null;
  posted_at?: string | null;
  workflow_state?: string | null;
  grader_id?: string | null;
}

export interface CanvasGrades {
  current_score?: number | null;
  final_score?: number | null;
  unposted_current_score?: number | null;
  unposted_final_score?: number | null;
  override_score?: number | null;
}

export interface CanvasEnrollmentInfo {
  user_id: string;
  sis_user_id?: string | null;
  enrollment_state?: string | null;
  grades?: CanvasGrades | null;
}

/** Something read from Canvas with the instant of the answer that carried it. */
export interface Dated<T> {
  item: T;
  date: number;
}

export interface CourseSnapshot {
  course: Dated<CanvasCourseInfo>;
  assignments: Dated<CanvasAssignmentInfo>[];
  submissions: Dated<CanvasSubmissionInfo>[];
  enrollments: Dated<CanvasEnrollmentInfo>[];
  /** Per grading period, its student enrollments' grades (only where the course has grading periods). */
  periods: { id: string; enrollments: Dated<CanvasEnrollmentInfo>[] }[];
}

export interface CourseRecords {
  records: NormalisedEvent[];
  mappings: TaughtMapping[];
  /** Items that could not be read (an id that is no id, a score that is no number): skipped, counted. */
  skipped: { what: string; why: string }[];
}

/** Canvas's autograders grade with negative user ids: no grader to name. */
function graderId(value: unknown, shard: string): string | null {
  if (value === null || value === undefined || (typeof value === 'string' && value.startsWith('-'))) return null;
  return readGlobalId(value, shard, 'grader_id');
}

/**
 * What the store holds of the course, by key (see drift.ts's storedByKey): an ungraded submission whose
 * key is stored is a grade removed since; a stored override Canvas no longer shows was cleared.
 */
export interface StoredKeys {
  assignment: ReadonlySet<string>;
  /** Keys `course/student/period` (-1: none) of the overrides stored with a value. */
  override: ReadonlySet<string>;
}

export const NOTHING_STORED: StoredKeys = { assignment: new Set(), override: new Set() };

export function courseRecords(snapshot: CourseSnapshot, shard: string, stored: StoredKeys = NOTHING_STORED): CourseRecords {
  const out: CourseRecords = { records: [], mappings: [], skipped: [] };
  const attempt = (what: string, work: () => void): void => {
    try {
      work();
    } catch (err) {
      if (!(err instanceof IntakeProblem)) throw err;
      out.skipped.push({ what, why: err.detail });
    }
  };
  const { item: course } = snapshot.course;
  const courseId = readGlobalId(course.id, shard, 'course.id');
  const rootAccountId = readGlobalId(course.root_account_id, shard, 'course.root_account_id');
  const courseSisId = readSisId(course.sis_course_id ?? null, 'course.sis_course_id');
  const common = (date: number) => ({ instant: date, event_time: date, root_account_id: rootAccountId, course_id: courseId, course_sis_id: courseSisId });

  const assignments = new Map<string, CanvasAssignmentInfo>();
  for (const { item: a, date } of snapshot.assignments) {
    attempt(`assignment ${String(a.id)}`, () => {
      const id = readGlobalId(a.id, shard, 'assignment.id');
      assignments.set(id, a);
      const name = readName(a.name);
      if (name !== null) out.mappings.push({ table: 'assignment_names', key: id, value: name, instant: date });
    });
  }
  const studentSis = new Map<string, string | null>();
  const courseScore = (e: CanvasEnrollmentInfo, date: number): void => {
    const studentId = readGlobalId(e.user_id, shard, 'enrollment.user_id');
    const sis = readSisId(e.sis_user_id ?? null, 'enrollment.sis_user_id');
    studentSis.set(studentId, sis);
    if (sis !== null) out.mappings.push({ table: 'student_sis_ids', key: studentId, value: sis, instant: date });
    const g = e.grades ?? {};
    const record: CourseGradeChangeRecord = {
      kind: 'course_grade_change',
      ...common(date),
      course_id: courseId,
      student_id: studentId,
      current_score: readScore(g.current_score, 'grades.current_score'),
      final_score: readScore(g.final_score, 'grades.final_score'),
      unposted_current_score: readScore(g.unposted_current_score, 'grades.unposted_current_score'),
      unposted_final_score: readScore(g.unposted_final_score, 'grades.unposted_final_score'),
      workflow_state: e.enrollment_state === 'deleted' ? 'deleted' : 'active',
    };
    out.records.push(record);
    overrideOf(studentId, null, e.grades, date);
  };
  /** The override Canvas shows for a student (course-level or of a period), or the clearing of one stored. */
  const overrideOf = (studentId: string, periodId: string | null, grades: CanvasGrades | null | undefined, date: number): void => {
    if (grades != null && 'override_score' in grades) out.records.push(override(studentId, periodId, grades.override_score, date));
    else if (stored.override.has(`${courseId}/${studentId}/${periodId ?? NO_GRADING_PERIOD}`)) out.records.push(override(studentId, periodId, null, date));
  };
  const override = (studentId: string, periodId: string | null, score: unknown, date: number): GradeOverrideRecord => ({
    kind: 'grade_override',
    ...common(date),
    course_id: courseId,
    student_id: studentId,
    grading_period_id: periodId,
    override_score: readScore(score, 'grades.override_score'),
  });
  for (const { item: e, date } of snapshot.enrollments) attempt(`enrollment of user ${String(e.user_id)}`, () => courseScore(e, date));
  for (const period of snapshot.periods) {
    attempt(`grading period ${String(period.id)}`, () => {
      const periodId = readGlobalId(period.id, shard, 'grading_period.id');
      for (const { item: e, date } of period.enrollments) {
        attempt(`enrollment of user ${String(e.user_id)} in grading period ${String(period.id)}`, () =>
          overrideOf(readGlobalId(e.user_id, shard, 'enrollment.user_id'), periodId, e.grades, date),
        );
      }
    });
  }
  for (const { item: s, date } of snapshot.submissions) {
    attempt(`submission ${String(s.id)}`, () => {
      const studentId = readGlobalId(s.user_id, shard, 'submission.user_id');
      const assignmentId = readGlobalId(s.assignment_id, shard, 'submission.assignment_id');
      const score = readScore(s.score, 'submission.score');
      const grade = readGrade(s.grade, 'submission.grade');
      // An ungraded submission says nothing, unless the store holds a grade for it (removed since).
      if (score === null && grade === null && !stored.assignment.has(`${assignmentId}/${studentId}`)) return;
      const assignment = assignments.get(assignmentId);
      const record: GradeChangeRecord = {
        kind: 'grade_change',
        ...common(date),
        student_id: studentId,
        assignment_id: assignmentId,
        submission_id: readGlobalId(s.id, shard, 'submission.id'),
        student_sis_id: studentSis.get(studentId) ?? null,
        score,
        grade,
        points_possible: readScore(assignment?.points_possible ?? null, 'assignment.points_possible'),
        grading_complete: s.workflow_state === 'graded',
        muted: s.posted_at === null || s.posted_at === undefined,
        grader_id: graderId(s.grader_id, shard),
        assignment_name: readName(assignment?.name ?? null),
      };
      out.records.push(record);
    });
  }
  return out;
}
