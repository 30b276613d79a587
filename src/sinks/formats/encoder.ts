import type { FeedRow } from '../../sync/feed-row.js';
import { csvHeader, csvRow } from './csv.js';
import type { FeedFormat } from './format.js';
import { jsonlRow } from './jsonl.js';
import { checkOrder, type RowSource } from './lines.js';
import { oneRosterFiles, zipOneRoster } from './oneroster.js';

/**
 * A batch file built from its rows as they come, in SPEC §6 order (checked). CSV and JSON Lines are
 * text, taken in pieces as they fill, so a million rows never make one giant string; OneRoster keeps
 * the rows (a zip needs every file whole) and is zipped at the end.
 */
export interface FeedEncoder {
  push(row: FeedRow): void;
  /** The bytes encoded so far, once there are at least about `min` of them; else null. */
  take(min: number): Uint8Array | null;
  /** The rest of the file (the header alone for a CSV without rows). */
  end(): Uint8Array;
  /** The assignments whose names the file shows (OneRoster's line item titles), to be given before end(). */
  titled?(): string[];
  /** Their names, by assignment id (absent: a title derived from the id). */
  titles?(names: ReadonlyMap<string, string>): void;
}

/** Pieces of about this size are handed on: large writes, little memory. */
export const PIECE_BYTES = 1 << 20;

/**
 * Lines are written as UTF-8 straight into a buffer as they come: a line's string dies young, rather
 * than living on, with a million others, in a long concatenation until its piece is taken (which made
 * the heap grow with the piece and the garbage outlive the young generation).
 */
class LineEncoder implements FeedEncoder {
  private full: Buffer[] = [];
  private buffer = Buffer.allocUnsafe(0);
  private used = 0;
  private previous: FeedRow | undefined;

  constructor(
    head: string,
    private readonly line: (row: FeedRow) => string,
  ) {
    this.write(head);
  }

  private write(text: string): void {
    // At most 3 bytes of UTF-8 per UTF-16 unit: room for that, or a fresh buffer.
    if (this.used + text.length * 3 > this.buffer.length) {
      if (this.used > 0) this.full.push(this.buffer.subarray(0, this.used));
      this.buffer = Buffer.allocUnsafe(Math.max(2 * PIECE_BYTES, text.length * 3));
      this.used = 0;
    }
    this.used += this.buffer.write(text, this.used, 'utf8');
  }

  push(row: FeedRow): void {
    checkOrder(this.previous, row);
    this.previous = row;
    this.write(this.line(row));
  }

  take(min: number): Uint8Array | null {
    let size = this.used;
    for (const b of this.full) size += b.length;
    return size < min ? null : this.end();
  }

  end(): Uint8Array {
    const last = this.buffer.subarray(0, this.used);
    const bytes = this.full.length === 0 ? last : Buffer.concat([...this.full, last]);
    this.full = [];
    // The next bytes go after these in the same buffer: what was handed out is never written again.
    this.buffer = this.buffer.subarray(this.used);
    this.used = 0;
    return bytes;
  }
}

class OneRosterEncoder implements FeedEncoder {
  private readonly rows: FeedRow[] = [];
  private names: ReadonlyMap<string, string> = new Map();

  titled(): string[] {
    return [...new Set(this.rows.flatMap((r) => (r.assignment_id === null ? [] : [r.assignment_id])))];
  }

  titles(names: ReadonlyMap<string, string>): void {
    this.names = names;
  }

  push(row: FeedRow): void {
    checkOrder(this.rows[this.rows.length - 1], row);
    this.rows.push(row);
  }

  take(): Uint8Array | null {
    return null;
  }

  end(): Uint8Array {
    return zipOneRoster(oneRosterFiles(this.rows, this.names));
  }
}

export function feedEncoder(format: FeedFormat): FeedEncoder {
  switch (format) {
    case 'csv':
      return new LineEncoder(csvHeader(), csvRow);
    case 'jsonl':
      return new LineEncoder('', jsonlRow);
    case 'oneroster':
      return new OneRosterEncoder();
  }
}

/** The file of `rows` (sorted) as pieces of about `pieceBytes`; an empty file yields nothing. */
export async function* encodeStream(format: FeedFormat, rows: RowSource, pieceBytes = PIECE_BYTES): AsyncGenerator<Uint8Array> {
  const encoder = feedEncoder(format);
  for await (const row of rows) {
    encoder.push(row);
    const piece = encoder.take(pieceBytes);
    if (piece !== null) yield piece;
  }
  const rest = encoder.end();
  if (rest.length > 0) yield rest;
}

export const csvChunks = (rows: RowSource, pieceBytes?: number): AsyncGenerator<Uint8Array> => encodeStream('csv', rows, pieceBytes);
export const jsonlChunks = (rows: RowSource, pieceBytes?: number): AsyncGenerator<Uint8Array> => encodeStream('jsonl', rows, pieceBytes);
