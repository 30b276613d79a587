import fc from 'fast-check';
import type { FeedRow } from '../../src/sync/feed-row.js';

/** Hand-written feed rows for the format and sort tests. */
export function assignmentRow(overrides: Partial<FeedRow> = {}): FeedRow {
  return {
    record_type: 'assignment',
    op: 'upsert',
    root_account_id: '10000000000001',
    course_id: '10000000000123',
    course_sis_id: 'MATH,101',
    student_id: '10000000000456',
    student_sis_id: 'S"1',
    assignment_id: '10000000000789',
    grading_period_id: null,
    score: 17.31,
    grade: 'A-',
    points_possible: 20,
    current_score: null,
    final_score: null,
    override_score: null,
    grading_complete: true,
    changed_at: Date.parse('2026-03-08T09:00:00.123Z'),
    ...overrides,
  };
}

export function courseRow(overrides: Partial<FeedRow> = {}): FeedRow {
  return {
    record_type: 'course',
    op: 'upsert',
    root_account_id: '10000000000001',
    course_id: '10000000000123',
    course_sis_id: 'MATH,101',
    student_id: '10000000000456',
    student_sis_id: 'S"1',
    assignment_id: null,
    grading_period_id: null,
    score: 0.5,
    grade: null,
    points_possible: null,
    current_score: 88.5,
    final_score: 5,
    override_score: 0.5,
    grading_complete: null,
    changed_at: Date.parse('2026-03-08T10:00:00Z'),
    ...overrides,
  };
}

/** Arbitrary feed rows of either type, with awkward text (quotes, commas, CR/LF, non-ASCII) and numbers. */
export function arbitraryRow(): fc.Arbitrary<FeedRow> {
  const id = fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String);
  const text = fc.string({ unit: fc.constantFrom('a', 'Z', '1', ',', '"', '\r', '\n', ' ', 'é', '学', '😀'), minLength: 1, maxLength: 8 });
  const score = fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: null });
  const changedAt = fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) });
  const common = { root_account_id: fc.option(id, { nil: null }), course_id: id, course_sis_id: text, student_id: id, student_sis_id: text, changed_at: changedAt };
  const assignment = fc.record({
    ...common,
    record_type: fc.constant('assignment' as const),
    op: fc.constant('upsert' as const),
    assignment_id: id,
    grading_period_id: fc.constant(null),
    score,
    grade: fc.option(text, { nil: null }),
    points_possible: score,
    current_score: fc.constant(null),
    final_score: fc.constant(null),
    override_score: fc.constant(null),
    grading_complete: fc.boolean(),
  });
  const course = fc.record({
    ...common,
    record_type: fc.constant('course' as const),
    op: fc.constantFrom('upsert' as const, 'delete' as const),
    assignment_id: fc.constant(null),
    grading_period_id: fc.option(id, { nil: null }),
    score,
    grade: fc.constant(null),
    points_possible: fc.constant(null),
    current_score: score,
    final_score: score,
    override_score: score,
    grading_complete: fc.constant(null),
  });
  return fc.oneof(assignment, course);
}
