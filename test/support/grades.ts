import { intakeText } from '../../src/intake/index.js';
import type { NormalisedEvent } from '../../src/intake/records.js';
import { variant, type Envelope } from './events.js';

/**
 * Canvas grade events built from the documentation fixtures, with the ids, times and scores a test
 * needs. Canonical ids of the fixtures: grade_change carries global ids; course_grade_change and
 * grade_override bodies carry local ids in shard 2107 (so body id "46" is 21070000000000046).
 */

type Fields = Record<string, unknown>;

/** grade_change at `at` (metadata.event_time, its instant). */
export const gradeChange = (at: string, body: Fields = {}, metadata: Fields = {}): Envelope =>
  variant('grade_change', { metadata: { event_time: at, ...metadata }, body });

/** course_grade_change whose instant is `at` (body.updated_at). */
export const courseGradeChange = (at: string, body: Fields = {}, metadata: Fields = {}): Envelope =>
  variant('course_grade_change', { metadata: { event_time: at, ...metadata }, body: { updated_at: at, ...body } });

/** grade_override whose instant is `at` (body.updated_at). */
export const gradeOverride = (at: string, body: Fields = {}, metadata: Fields = {}): Envelope =>
  variant('grade_override', { metadata: { event_time: at, ...metadata }, body: { updated_at: at, ...body } });

/** The normalised record of an event that must be valid. */
export function record(event: Envelope): NormalisedEvent {
  const verdict = intakeText(JSON.stringify(event));
  if (verdict.outcome !== 'valid') throw new Error(`test event is not valid: ${JSON.stringify(verdict)}`);
  return verdict.record;
}

export const line = (event: Envelope): string => JSON.stringify(event);

/** Canonical ids the fixtures produce. */
export const IDS = {
  gcStudent: '21070000000000048',
  gcAssignment: '21070000000000355',
  gcCourse: '21070000000000565',
  cgcStudent: '21070000000000002',
  cgcCourse: '21070000000000002',
  goStudent: '21070000000000045',
  goCourse: '21070000000000046',
  goPeriod: '21070000000000047',
} as const;

/**
 * `count` distinct events over few keys (7 students, 5 assignments, 3 courses, 2 grading periods) and
 * 50 instants, so keys and instants collide constantly and fingerprints decide. Deterministic.
 */
export function eventLines(count: number): string[] {
  const lines: string[] = [];
  const t0 = Date.UTC(2020, 0, 1);
  for (let i = 0; i < count; i += 1) {
    const at = new Date(t0 + ((i * 7919) % 50) * 1000).toISOString();
    const student = 100 + (i % 7);
    switch (i % 3) {
      case 0:
        lines.push(
          line(
            gradeChange(at, {
              student_id: `2107${String(student).padStart(13, '0')}`,
              user_id: `2107${String(student).padStart(13, '0')}`,
              assignment_id: `2107${String(1000 + (i % 5)).padStart(13, '0')}`,
              score: i % 11,
              grade: String(i),
              student_sis_id: `S${i % 4}`,
            }),
          ),
        );
        break;
      case 1:
        lines.push(line(courseGradeChange(at, { user_id: String(student), course_id: String(2 + (i % 3)), current_score: i / 4 })));
        break;
      default:
        lines.push(
          line(
            gradeOverride(at, {
              user_id: String(student),
              course_id: String(46 + (i % 2)),
              grading_period_id: i % 4 === 0 ? null : '47',
              override_score: i % 13,
            }),
          ),
        );
    }
  }
  return lines;
}
