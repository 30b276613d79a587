import { z } from 'zod';
import { readId } from '../../intake/ids.js';
import { IntakeProblem } from '../../intake/reasons.js';
import { parseInstant } from '../../intake/timestamps.js';

/**
 * What gradestream reads of Canvas's REST answers (SPEC §8), and only that: other fields are dropped.
 * Written from the documented models (https://developerdocs.instructure.com/services/canvas/resources/…)
 * and, where the docs are vague, from canvas-lms's source (named at each place).
 *
 * Lenient where Canvas is known to vary (absent and null alike, numbers where the docs say strings),
 * strict where a wrong reading would be a wrong grade (ids, scores, states, visibility of grades).
 */

function problemText(err: unknown): string {
  const text = err instanceof IntakeProblem ? err.detail : String(err);
  return text.replace(/^#: /, '');
}

/**
 * A Canvas id as an exact decimal string. With `Accept: application/json+canvas-string-ids` Canvas
 * writes every `id` and `*_id` integer as a string (lib/api.rb, stringify_json_ids); a JSON number is
 * still accepted when it is a safe integer (as SPEC §1.3 does for events), never one above 2^53, whose
 * digits JSON.parse has already lost.
 */
export const CanvasId = z.unknown().optional().transform((value, ctx): string => {
  try {
    const id = readId(value, '#');
    if (id !== null) return id;
    ctx.addIssue({ code: 'custom', message: 'required id is absent or null' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: problemText(err) });
  }
  return z.NEVER;
});

/** An id that may be absent or null (e.g. a course's enrollment_term_id). */
export const OptionalCanvasId = z.unknown().optional().transform((value, ctx): string | null => {
  try {
    return readId(value, '#');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: problemText(err) });
    return z.NEVER;
  }
});

/**
 * A submission's grader_id: "positive if a real user has graded the submission and negative if it was
 * graded by a process" (the Submission model: the negated quiz or LTI tool id). Absent/null → null.
 */
export const GraderId = z.unknown().optional().transform((value, ctx): string | null => {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && /^-?[0-9]{1,19}$/.test(value)) return value.replace(/^(-?)0+(?=\d)/, '$1');
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  ctx.addIssue({ code: 'custom', message: 'not an integer id (a JSON number id must be a safe integer)' });
  return z.NEVER;
});

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A score, present (null allowed). The documented Grade model types current_score etc. as "string"
 * with example "" while Canvas sends numbers: a number is read as is, a numeric string is converted,
 * "" is null; anything else (true, "A", {}) is refused rather than guessed.
 */
export const Score = z
  .union([z.number(), z.string(), z.null()], { error: (issue) => (issue.input === undefined ? 'absent (a number or null expected)' : 'not a number') })
  .transform((value, ctx): number | null => {
    if (value === null) return null;
    if (typeof value === 'number') return value;
    const text = value.trim();
    if (text === '') return null;
    const n = Number(text);
    if (NUMERIC.test(text) && Number.isFinite(n)) return n;
    ctx.addIssue({ code: 'custom', message: 'not a number' });
    return z.NEVER;
  });

/** A score that may be absent (absent = null). */
export const OptionalScore = Score.optional().transform((value) => value ?? null);

/** An ISO 8601 timestamp with an offset as UTC epoch ms (src/intake/timestamps.ts); absent/null → null. */
export const Instant = z.unknown().optional().transform((value, ctx): number | null => {
  if (value === undefined || value === null) return null;
  try {
    return parseInstant(value, '#');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: problemText(err) });
    return z.NEVER;
  }
});

/** Text shown to people (names, titles): anything that is not a string reads as "". */
const Label = z.unknown().optional().transform((value) => (typeof value === 'string' ? value : ''));

/** An SIS id: a non-empty string (a safe integer is turned into one); absent, null or "" → null. */
export const SisId = z.unknown().optional().transform((value, ctx): string | null => {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  ctx.addIssue({ code: 'custom', message: 'not an SIS id (a string)' });
  return z.NEVER;
});

/** A submission's grade: a string, a number turned into one (SPEC §1.3), or null. */
const Grade = z.union([z.string(), z.number(), z.null()]).optional().transform((value) => (value === undefined || value === null ? null : String(value)));

/**
 * Course (GET /api/v1/courses/:id, GET /api/v1/accounts/:id/courses). None of these fields needs an
 * include[]; sis_course_id is there only when the token may read SIS data (absent → null).
 * workflow_state is the API's mapping: "unpublished" | "available" | "completed" | "deleted".
 */
export const CanvasCourse = z.object({
  id: CanvasId,
  name: Label,
  sis_course_id: SisId,
  /** Always on a Course (the model's root_account_id): it scopes schedules and the feed's column. */
  root_account_id: CanvasId,
  enrollment_term_id: OptionalCanvasId,
  workflow_state: z.enum(['unpublished', 'available', 'completed', 'deleted']),
});
export type CanvasCourse = z.infer<typeof CanvasCourse>;

/**
 * The grades of a student enrollment. Source: lib/api/v1/user.rb grades_hash. When the token may
 * manage or view all grades, Canvas sends the computed scores and the unposted ones; otherwise it sends
 * "effective" current/final scores, which already include an override, and no unposted_* at all.
 * Reading those as course scores would be wrong, so the four keys are required (null allowed): their
 * absence makes the record a rejected one ("the token cannot view all grades").
 *
 * override_score: Canvas sends it only when the course allows Final Grade Override AND this student
 * has an override (grades_hash adds it `if override_score.present?`; Enrollment#override_score is nil
 * unless course.allow_final_grade_override?). So the key is kept exactly as sent: present (a number)
 * when there is an override, absent otherwise. Its absence does NOT mean the feature is off: in a
 * course where any student has one, a student without the key has no override (a cleared one reads
 * the same). The docs' Enrollment model shows override_score beside `grades` rather than inside it;
 * that one is read when `grades` has none.
 */
const EnrollmentGrades = z.object({
  current_score: Score,
  final_score: Score,
  unposted_current_score: Score,
  unposted_final_score: Score,
  override_score: Score.optional(),
});

/** The grades of an enrollment as read: `override_score` only when Canvas sent one. */
export interface CanvasGrades {
  current_score: number | null;
  final_score: number | null;
  unposted_current_score: number | null;
  unposted_final_score: number | null;
  override_score?: number | null;
}

/** A student enrollment with its grades (GET /api/v1/courses/:id/enrollments?type[]=StudentEnrollment). */
export const CanvasEnrollment = z
  .object({
    id: CanvasId,
    user_id: CanvasId,
    course_id: CanvasId,
    /** Only when the token may read SIS data; absent → null. */
    sis_user_id: SisId,
    /**
     * active | invited | creation_pending | deleted | rejected | completed | inactive (the
     * Enrollments API's state[] values). "deleted" also when the course or section was deleted
     * (lib/api/v1/user.rb enrollment_json).
     */
    enrollment_state: z.enum(['active', 'invited', 'creation_pending', 'deleted', 'rejected', 'completed', 'inactive']),
    updated_at: Instant,
    grades: EnrollmentGrades,
    override_score: Score.optional(),
  })
  .transform(({ override_score: beside, grades, ...rest }) => {
    const { override_score: inside, ...scores } = grades;
    const override = inside !== undefined ? inside : beside;
    const read: CanvasGrades = override === undefined ? scores : { ...scores, override_score: override };
    return { ...rest, grades: read };
  });
export type CanvasEnrollment = z.infer<typeof CanvasEnrollment>;

/** GET /api/v1/courses/:id/assignments. points_possible may be null; published absent → null. */
export const CanvasAssignment = z.object({
  id: CanvasId,
  name: Label,
  points_possible: OptionalScore,
  published: z.boolean().nullish().transform((value) => value ?? null),
  /** pass_fail | percent | letter_grade | gpa_scale | points | not_graded (kept as sent). */
  grading_type: z.string().nullish().transform((value) => value ?? null),
});
export type CanvasAssignment = z.infer<typeof CanvasAssignment>;

/**
 * GET /api/v1/courses/:id/students/submissions?student_ids[]=all (the Submission model).
 * posted_at null = not posted to the student (SPEC §8: unposted). workflow_state is one of the four
 * documented values; another is refused, since whether grading is complete is read from it.
 */
export const CanvasSubmission = z.object({
  id: CanvasId,
  assignment_id: CanvasId,
  user_id: CanvasId,
  score: OptionalScore,
  grade: Grade,
  graded_at: Instant,
  posted_at: Instant,
  workflow_state: z.enum(['submitted', 'unsubmitted', 'graded', 'pending_review']),
  grader_id: GraderId,
});
export type CanvasSubmission = z.infer<typeof CanvasSubmission>;

/**
 * One grading period of GET /api/v1/courses/:id/grading_periods, whose body is
 * `{"grading_periods": [GradingPeriod], "meta": {...}}` (a course without grading periods answers an
 * empty list; the course's own periods, else those of its term's set).
 */
export const CanvasGradingPeriod = z.object({
  id: CanvasId,
  title: Label,
  start_date: Instant,
  end_date: Instant,
});
export type CanvasGradingPeriod = z.infer<typeof CanvasGradingPeriod>;
