import type { FeedRow } from '../../sync/feed-row.js';
import { replayable, type BatchFile } from '../types.js';
import { csvChunks } from './csv.js';
import { batchFileName, CONTENT_TYPES, type FeedFormat } from './format.js';
import { jsonlChunks } from './jsonl.js';
import type { RowSource } from './lines.js';
import { oneRosterFiles, zipOneRoster } from './oneroster.js';

export * from './format.js';
export { csvChunks, csvField, csvHeader, csvLine, csvRow, encodeCsv, feedFieldText } from './csv.js';
export { encodeJsonl, jsonlChunks, jsonlRow } from './jsonl.js';
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
  switch (format) {
    case 'csv':
      return { name, contentType, bytes: replayable(() => csvChunks(open())) };
    case 'jsonl':
      return { name, contentType, bytes: replayable(() => jsonlChunks(open())) };
    case 'oneroster': {
      const all: FeedRow[] = [];
      for await (const row of open()) all.push(row);
      return { name, contentType, bytes: zipOneRoster(oneRosterFiles(all)) };
    }
  }
}
