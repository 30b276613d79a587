import { formatInstant } from '../../intake/timestamps.js';
import type { FeedRow } from '../../sync/feed-row.js';
import { encodeLinesSync } from './lines.js';

/**
 * JSON Lines: one object per row with the CSV's field names in the CSV's order, LF after each. Ids
 * stay strings (they exceed 2^53), null stays null, changed_at is ISO text. No rows → an empty file.
 */
export function jsonlRow(row: FeedRow): string {
  // FEED_COLUMNS written out (a fixed shape is JSON.stringify's fast path; a test holds it to the list).
  const object = {
    record_type: row.record_type,
    op: row.op,
    root_account_id: row.root_account_id,
    course_id: row.course_id,
    course_sis_id: row.course_sis_id,
    student_id: row.student_id,
    student_sis_id: row.student_sis_id,
    assignment_id: row.assignment_id,
    grading_period_id: row.grading_period_id,
    score: row.score,
    grade: row.grade,
    points_possible: row.points_possible,
    current_score: row.current_score,
    final_score: row.final_score,
    override_score: row.override_score,
    grading_complete: row.grading_complete,
    changed_at: formatInstant(row.changed_at),
  };
  return JSON.stringify(object) + '\n';
}

export function encodeJsonl(rows: Iterable<FeedRow>): Uint8Array {
  return encodeLinesSync('', rows, jsonlRow);
}
