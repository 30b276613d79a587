import { formatInstant } from '../../intake/timestamps.js';
import { FEED_COLUMNS, type FeedColumn, type FeedRow } from '../../sync/feed-row.js';
import { encodeLines, encodeLinesSync, type RowSource } from './lines.js';

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

export function csvRow(row: FeedRow): string {
  return csvLine(FEED_COLUMNS.map((column) => feedFieldText(row, column)));
}

/** The feed as UTF-8 chunks; rows must already be sorted (compareRows). No rows → header only. */
export function csvChunks(rows: RowSource): AsyncGenerator<Uint8Array> {
  return encodeLines(csvHeader(), rows, csvRow);
}

export function encodeCsv(rows: Iterable<FeedRow>): Uint8Array {
  return encodeLinesSync(csvHeader(), rows, csvRow);
}
