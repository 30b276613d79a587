import { z } from 'zod';

/**
 * The normalised records intake produces: the one place their shape is written. TypeScript types are
 * inferred from these schemas; `schemas/gradestream-normalised-event.avsc` is the same shape in Avro
 * (a test keeps the two in step).
 *
 * Ids are canonical global ids as exact decimal strings. `instant` is the event's ordering instant and
 * `event_time` its metadata.event_time, both UTC epoch milliseconds.
 */

/** A canonical id: decimal digits, no leading zeros, at most 19 digits (stores keep 64-bit integers). */
export const CanonicalId = z.string().regex(/^(0|[1-9][0-9]{0,18})$/);
const id = CanonicalId;
const score = z.number().finite().nullable();
const instant = z.number().int();

const common = {
  instant,
  event_time: instant,
  root_account_id: id.nullable(),
  course_id: id.nullable(),
  course_sis_id: z.string().min(1).nullable(),
  student_id: id,
};

export const eventKinds = ['grade_change', 'course_grade_change', 'grade_override'] as const;
export const EventKind = z.enum(eventKinds);
export type EventKind = z.infer<typeof EventKind>;

export const GradeChangeRecord = z.object({
  kind: z.literal('grade_change'),
  ...common,
  assignment_id: id,
  submission_id: id.nullable(),
  student_sis_id: z.string().min(1).nullable(),
  score,
  grade: z.string().nullable(),
  points_possible: score,
  grading_complete: z.boolean().nullable(),
  /** true = unposted. Canvas's absent or null muted is stored as true: an unposted grade never leaks. */
  muted: z.boolean(),
  grader_id: id.nullable(),
  /**
   * The assignment's name (Canvas's producer sends `assignment_name`). Not part of the grade: left out
   * of the fingerprint, kept in the assignment_names mapping (the OneRoster lineItems title).
   */
  assignment_name: z.string().min(1).nullable(),
});

export const CourseGradeChangeRecord = z.object({
  kind: z.literal('course_grade_change'),
  ...common,
  course_id: id,
  current_score: score,
  final_score: score,
  unposted_current_score: score,
  unposted_final_score: score,
  workflow_state: z.enum(['active', 'deleted']),
});

export const GradeOverrideRecord = z.object({
  kind: z.literal('grade_override'),
  ...common,
  course_id: id,
  grading_period_id: id.nullable(),
  /** null = the override was cleared. */
  override_score: score,
});

export const NormalisedEvent = z.discriminatedUnion('kind', [
  GradeChangeRecord,
  CourseGradeChangeRecord,
  GradeOverrideRecord,
]);

export type GradeChangeRecord = z.infer<typeof GradeChangeRecord>;
export type CourseGradeChangeRecord = z.infer<typeof CourseGradeChangeRecord>;
export type GradeOverrideRecord = z.infer<typeof GradeOverrideRecord>;
export type NormalisedEvent = z.infer<typeof NormalisedEvent>;
