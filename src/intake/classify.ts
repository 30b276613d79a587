import type { EventKind } from './records.js';
import { IntakeProblem, show } from './reasons.js';

export type Classification = { kind: EventKind } | { ignored: string };

const KINDS: ReadonlySet<string> = new Set<EventKind>(['grade_change', 'course_grade_change', 'grade_override']);

const COURSE_SCORE_KEYS = [
  'current_score',
  'final_score',
  'unposted_current_score',
  'unposted_final_score',
  'old_current_score',
  'old_final_score',
  'old_unposted_current_score',
  'old_unposted_final_score',
];

const present = (body: Record<string, unknown>, key: string): boolean =>
  body[key] !== undefined && body[key] !== null;

/**
 * SPEC §1.2. The kind comes from metadata.event_name, corrected by one body rule: Canvas's own
 * documentation shows a grade_override whose event_name is "grade_change", and other events
 * (submission_created, enrollment events) carry look-alike bodies, so shape alone is used only when
 * there is no event_name at all.
 */
export function classify(metadata: Record<string, unknown>, body: Record<string, unknown>): Classification {
  const name = metadata['event_name'];
  if (name !== undefined && name !== null) {
    if (typeof name !== 'string') {
      throw new IntakeProblem('invalid_field', `metadata.event_name: ${show(name)} is not a string`);
    }
    if (!KINDS.has(name)) return { ignored: name };
  }
  // A key that is there, even holding null: a cleared override is override_score null.
  if ('override_score' in body || 'old_override_score' in body) return { kind: 'grade_override' };
  if (typeof name === 'string') return { kind: name as EventKind };
  if (present(body, 'assignment_id') && present(body, 'submission_id')) return { kind: 'grade_change' };
  if (present(body, 'course_id') && present(body, 'user_id') && COURSE_SCORE_KEYS.some((k) => k in body)) {
    return { kind: 'course_grade_change' };
  }
  throw new IntakeProblem(
    'not_an_event',
    'no metadata.event_name, and the body has neither assignment_id + submission_id nor course_id + user_id + a score',
  );
}
