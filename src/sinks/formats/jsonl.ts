import { formatInstant } from '../../intake/timestamps.js';
import { FEED_COLUMNS, type FeedRow } from '../../sync/feed-row.js';
import { encodeLines, encodeLinesSync, type RowSource } from './lines.js';

/**
 * JSON Lines: one object per row with the CSV's field names in the CSV's order, LF after each. Ids
 * stay strings (they exceed 2^53), null stays null, changed_at is ISO text. No rows → an empty file.
 */
export function jsonlRow(row: FeedRow): string {
  const object: Record<string, unknown> = {};
  for (const column of FEED_COLUMNS) {
    object[column] = column === 'changed_at' ? formatInstant(row.changed_at) : row[column];
  }
  return JSON.stringify(object) + '\n';
}

export function jsonlChunks(rows: RowSource): AsyncGenerator<Uint8Array> {
  return encodeLines('', rows, jsonlRow);
}

export function encodeJsonl(rows: Iterable<FeedRow>): Uint8Array {
  return encodeLinesSync('', rows, jsonlRow);
}
