import type { FeedRow } from '../../sync/feed-row.js';
import { replayable, type BatchFile } from '../types.js';
import { encodeStream, feedEncoder } from './encoder.js';
import { batchFileName, CONTENT_TYPES, type FeedFormat } from './format.js';
import type { RowSource } from './lines.js';

export * from './format.js';
export { csvField, csvHeader, csvLine, csvRow, encodeCsv, feedFieldText } from './csv.js';
export { csvChunks, encodeStream, feedEncoder, jsonlChunks, PIECE_BYTES, type FeedEncoder } from './encoder.js';
export { encodeJsonl, jsonlRow } from './jsonl.js';
export type { RowSource } from './lines.js';
export { lineItemSourcedId, oneRosterFiles, resultSourcedId, zipOneRoster } from './oneroster.js';

/**
 * The one file of a batch in `format`. `rows` (sorted, compareRows) is read when the file is sent and
 * again on every retry, so pass an array or a function that opens a fresh cursor each time. CSV and
 * JSON Lines stream; OneRoster is built in memory (a zip needs every file whole).
 */
export async function encodeBatch(
  format: FeedFormat,
  batchId: string,
  rows: readonly FeedRow[] | (() => RowSource),
): Promise<BatchFile> {
  const open = typeof rows === 'function' ? rows : () => rows;
  const name = batchFileName(batchId, format);
  const contentType = CONTENT_TYPES[format];
  if (format === 'oneroster') {
    const encoder = feedEncoder(format);
    for await (const row of open()) encoder.push(row);
    return { name, contentType, bytes: encoder.end() };
  }
  return { name, contentType, bytes: replayable(() => encodeStream(format, open())) };
}
