import { z } from 'zod';
import { compareIds } from '../intake/ids.js';
import { CanonicalId } from '../intake/records.js';

/**
 * One row of the SIS batch feed (SPEC §6). The column order is part of the contract: the CSV header,
 * the JSON Lines key order and `schemas/sis-feed-row.avsc` all follow FEED_COLUMNS (a test keeps the
 * Avro schema in step). `changed_at` is UTC epoch milliseconds here and ISO text only in the files.
 */
export const FEED_COLUMNS = [
  'record_type',
  'op',
  'root_account_id',
  'course_id',
  'course_sis_id',
  'student_id',
  'student_sis_id',
  'assignment_id',
  'grading_period_id',
  'score',
  'grade',
  'points_possible',
  'current_score',
  'final_score',
  'override_score',
  'grading_complete',
  'changed_at',
] as const;

export type FeedColumn = (typeof FEED_COLUMNS)[number];

const score = z.number().finite().nullable();
const sisId = z.string().min(1);

/** Columns that must be null on each record type (SPEC §6: "on course rows … are empty"). */
const EMPTY_ON = {
  assignment: ['grading_period_id', 'current_score', 'final_score', 'override_score'],
  course: ['assignment_id', 'grade', 'points_possible', 'grading_complete'],
} as const;

export const FeedRow = z
  .object({
    record_type: z.enum(['assignment', 'course']),
    op: z.enum(['upsert', 'delete']),
    root_account_id: CanonicalId.nullable(),
    // A row reaches the SIS only once both SIS ids are known (SPEC §3), so these are never null here
    // (the Avro schema is looser: it allows null, which costs nothing).
    course_id: CanonicalId,
    course_sis_id: sisId,
    student_id: CanonicalId,
    student_sis_id: sisId,
    assignment_id: CanonicalId.nullable(),
    grading_period_id: CanonicalId.nullable(),
    score,
    grade: z.string().nullable(),
    points_possible: score,
    current_score: score,
    final_score: score,
    override_score: score,
    grading_complete: z.boolean().nullable(),
    changed_at: z.number().int(),
  })
  .superRefine((row, ctx) => {
    for (const column of EMPTY_ON[row.record_type]) {
      if (row[column] !== null) {
        ctx.addIssue({ code: 'custom', path: [column], message: `must be null on ${row.record_type} rows` });
      }
    }
    if (row.record_type === 'assignment') {
      if (row.assignment_id === null) {
        ctx.addIssue({ code: 'custom', path: ['assignment_id'], message: 'required on assignment rows' });
      }
      // SPEC §6: "grading_complete is true/false on assignment rows"; the row builder decides null.
      if (row.grading_complete === null) {
        ctx.addIssue({ code: 'custom', path: ['grading_complete'], message: 'true or false on assignment rows' });
      }
    }
  });

export type FeedRow = z.infer<typeof FeedRow>;

/**
 * SIS ids are compared by Unicode code point, which is the byte order of their UTF-8 form: the same
 * order as `LC_ALL=C sort`, SQLite's BINARY and PostgreSQL's "C" collation, and never dependent on a
 * locale. (Plain `<` on JS strings compares UTF-16 code units, which differs only when a character above
 * U+FFFF meets one in U+E000–U+FFFF.)
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Moves surrogates (U+D800–U+DFFF, which start characters above U+FFFF) after U+E000–U+FFFF. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

/** Numeric order of canonical ids (exact for ids above 2^53); null (an empty field) first. */
export function compareOptionalIds(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return compareIds(a, b);
}

/**
 * SPEC §6 order: course_sis_id, student_sis_id, record_type (assignment before course), assignment_id
 * numerically, grading_period_id numerically (none first). Then, so that no two distinct rows ever
 * tie and the same delta always gives the same bytes: course_id, student_id, op.
 */
export function compareRows(a: FeedRow, b: FeedRow): number {
  return (
    compareText(a.course_sis_id, b.course_sis_id) ||
    compareText(a.student_sis_id, b.student_sis_id) ||
    (a.record_type === b.record_type ? 0 : a.record_type === 'assignment' ? -1 : 1) ||
    compareOptionalIds(a.assignment_id, b.assignment_id) ||
    compareOptionalIds(a.grading_period_id, b.grading_period_id) ||
    compareIds(a.course_id, b.course_id) ||
    compareIds(a.student_id, b.student_id) ||
    (a.op === b.op ? 0 : a.op === 'delete' ? -1 : 1)
  );
}

/** A sorted copy. */
export function sortRows(rows: Iterable<FeedRow>): FeedRow[] {
  return [...rows].sort(compareRows);
}
