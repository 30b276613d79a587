import { InternalError } from '../../errors.js';
import { compareRows, type FeedRow } from '../../sync/feed-row.js';

/** Rows from memory, a database cursor or any async source. */
export type RowSource = Iterable<FeedRow> | AsyncIterable<FeedRow>;

/**
 * Stops a file whose rows are not in the SPEC §6 order, or hold a key twice: the feed's bytes must
 * depend only on the delta, so a caller that forgot to sort is a bug to stop, not a file to send.
 */
export function checkOrder(previous: FeedRow | undefined, row: FeedRow): void {
  if (previous !== undefined && compareRows(previous, row) >= 0) {
    throw new InternalError('feed rows are not in SPEC §6 order (or one key appears twice)');
  }
}

/** The whole file at once, for small batches and tests. */
export function encodeLinesSync(head: string, rows: Iterable<FeedRow>, line: (row: FeedRow) => string): Uint8Array {
  let text = head;
  let previous: FeedRow | undefined;
  for (const row of rows) {
    checkOrder(previous, row);
    previous = row;
    text += line(row);
  }
  return new TextEncoder().encode(text);
}
