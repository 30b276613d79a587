import { formatInstant } from '../../intake/timestamps.js';
import { FEED_COLUMNS, type FeedColumn, type FeedRow } from '../../sync/feed-row.js';
import { encodeLinesSync } from './lines.js';

/**
 * The default feed (SPEC §6): RFC 4180 — UTF-8 without BOM, CRLF after every record including the last,
 * a header row, a field quoted only when it holds a comma, quote, CR or LF, quotes inside doubled.
 * Hand-written because the bytes are the contract and the encoder is this small.
 */

const NEEDS_QUOTES = /[",\r\n]/;

export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(fields: readonly string[]): string {
  return fields.map(csvField).join(',') + '\r\n';
}

/**
 * A column's text: numbers exactly as JavaScript prints them (17.31, 5, 0.5), booleans true/false,
 * null empty, changed_at as YYYY-MM-DDTHH:mm:ss.SSSZ.
 */
export function feedFieldText(row: FeedRow, column: FeedColumn): string {
  if (column === 'changed_at') return formatInstant(row.changed_at);
  const value = row[column];
  return value === null ? '' : String(value);
}

export function csvHeader(): string {
  return csvLine(FEED_COLUMNS);
}

const optional = (value: number | string | null): string => (value === null ? '' : String(value));
const optionalText = (value: string | null): string => (value === null ? '' : csvField(value));

/**
 * One row, field by field (it runs once per row sent): the same text as csvLine of feedFieldText of
 * each column, which a test holds it to. Ids, numbers, booleans, record_type and op never need quotes.
 */
export function csvRow(row: FeedRow): string {
  return (
    `${row.record_type},${row.op},${optional(row.root_account_id)},${row.course_id},${csvField(row.course_sis_id)},` +
    `${row.student_id},${csvField(row.student_sis_id)},${optional(row.assignment_id)},${optional(row.grading_period_id)},` +
    `${optional(row.score)},${optionalText(row.grade)},${optional(row.points_possible)},${optional(row.current_score)},` +
    `${optional(row.final_score)},${optional(row.override_score)},${row.grading_complete === null ? '' : String(row.grading_complete)},` +
    `${formatInstant(row.changed_at)}\r\n`
  );
}

export function encodeCsv(rows: Iterable<FeedRow>): Uint8Array {
  return encodeLinesSync(csvHeader(), rows, csvRow);
}
