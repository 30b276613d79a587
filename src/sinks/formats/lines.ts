import { InternalError } from '../../errors.js';
import { compareRows, type FeedRow } from '../../sync/feed-row.js';

/** Rows from memory, a database cursor or any async source. */
export type RowSource = Iterable<FeedRow> | AsyncIterable<FeedRow>;

const CHUNK_CHARS = 64 * 1024;

/**
 * Streams a text file made of a head and one line per row, as UTF-8 chunks of about 64 KiB. Checks on
 * the way that rows come in the SPEC §6 order with no key twice: the feed's bytes must depend only on
 * the delta, so a caller that forgot to sort is a bug to stop, not a file to send.
 */
export async function* encodeLines(
  head: string,
  rows: RowSource,
  line: (row: FeedRow) => string,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let buffer = head;
  let previous: FeedRow | undefined;
  for await (const row of rows) {
    if (previous !== undefined && compareRows(previous, row) >= 0) {
      throw new InternalError('feed rows are not in SPEC §6 order (or one key appears twice)');
    }
    previous = row;
    buffer += line(row);
    if (buffer.length >= CHUNK_CHARS) {
      yield encoder.encode(buffer);
      buffer = '';
    }
  }
  if (buffer !== '') yield encoder.encode(buffer);
}

/** The whole file at once, for small batches and tests. */
export function encodeLinesSync(head: string, rows: Iterable<FeedRow>, line: (row: FeedRow) => string): Uint8Array {
  let text = head;
  let previous: FeedRow | undefined;
  for (const row of rows) {
    if (previous !== undefined && compareRows(previous, row) >= 0) {
      throw new InternalError('feed rows are not in SPEC §6 order (or one key appears twice)');
    }
    previous = row;
    text += line(row);
  }
  return new TextEncoder().encode(text);
}
