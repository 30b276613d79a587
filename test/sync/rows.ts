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
