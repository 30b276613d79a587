import type { NormalisedEvent } from '../intake/records.js';
import type { CourseRows } from '../state/store.js';
import type { StoredKeys } from './canvas-records.js';
import { NO_GRADING_PERIOD, type StoredRow } from '../state/tables.js';

/**
 * How what Canvas says compares with what the store holds, per record type (SPEC §8): `confirmed` — the
 * same values; `changed` — drift, a lost or late event; `new` — a key the store did not have (a grade
 * from before the subscription, or whose only event was lost). Only what can reach the SIS is compared
 * (scores, grade, posted state, workflow state), not versions: a read is always newer than the event.
 */
export interface Drift {
  confirmed: number;
  changed: number;
  new: number;
}

export type RecordType = 'assignment' | 'course' | 'override';
export type DriftByType = Record<RecordType, Drift>;

export const zeroDrift = (): DriftByType => ({
  assignment: { confirmed: 0, changed: 0, new: 0 },
  course: { confirmed: 0, changed: 0, new: 0 },
  override: { confirmed: 0, changed: 0, new: 0 },
});

export function addDrift(total: DriftByType, more: DriftByType): void {
  for (const t of Object.keys(total) as RecordType[]) {
    total[t].confirmed += more[t].confirmed;
    total[t].changed += more[t].changed;
    total[t].new += more[t].new;
  }
}

const COMPARED: Record<RecordType, readonly string[]> = {
  assignment: ['score', 'grade', 'points_possible', 'grading_complete', 'muted'],
  course: ['current_score', 'final_score', 'unposted_current_score', 'unposted_final_score', 'workflow_state'],
  override: ['override_score'],
};

const typeOf = (r: NormalisedEvent): RecordType =>
  r.kind === 'grade_change' ? 'assignment' : r.kind === 'course_grade_change' ? 'course' : 'override';

export function keyOf(r: NormalisedEvent): string {
  if (r.kind === 'grade_change') return `${r.assignment_id}/${r.student_id}`;
  if (r.kind === 'course_grade_change') return `${r.course_id}/${r.student_id}`;
  return `${r.course_id}/${r.student_id}/${r.grading_period_id ?? NO_GRADING_PERIOD}`;
}

const storedKey: Record<RecordType, (row: StoredRow) => string> = {
  assignment: (row) => `${String(row['assignment_id'])}/${String(row['student_id'])}`,
  course: (row) => `${String(row['course_id'])}/${String(row['student_id'])}`,
  override: (row) => `${String(row['course_id'])}/${String(row['student_id'])}/${String(row['grading_period_id'])}`,
};

/** The stored rows of a course by record type and key. */
export function storedByKey(rows: CourseRows): Record<RecordType, Map<string, StoredRow>> {
  const index = (type: RecordType, list: StoredRow[]) => new Map(list.map((row) => [storedKey[type](row), row]));
  return {
    assignment: index('assignment', rows.assignment_scores),
    course: index('course', rows.course_scores),
    override: index('override', rows.course_overrides),
  };
}

/** The keys courseRecords needs of what is stored: assignment keys, and overrides that hold a value. */
export function storedKeys(stored: Record<RecordType, Map<string, StoredRow>>): StoredKeys {
  return {
    assignment: new Set(stored.assignment.keys()),
    override: new Set([...stored.override].filter(([, row]) => row['override_score'] !== null).map(([key]) => key)),
  };
}

export function drift(records: readonly NormalisedEvent[], stored: Record<RecordType, Map<string, StoredRow>>): DriftByType {
  const counts = zeroDrift();
  for (const r of records) {
    const type = typeOf(r);
    const row = stored[type].get(keyOf(r));
    if (row === undefined) counts[type].new += 1;
    else {
      const values = r as unknown as Record<string, unknown>;
      const same = COMPARED[type].every((field) => (values[field] ?? null) === (row[field] ?? null));
      counts[type][same ? 'confirmed' : 'changed'] += 1;
    }
  }
  return counts;
}
