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
}

/** Pieces of about this size are handed on: large writes, little memory. */
export const PIECE_BYTES = 1 << 20;

class LineEncoder implements FeedEncoder {
  private text: string;
  private previous: FeedRow | undefined;

  constructor(
    head: string,
    private readonly line: (row: FeedRow) => string,
  ) {
    this.text = head;
  }

  push(row: FeedRow): void {
    checkOrder(this.previous, row);
    this.previous = row;
    this.text += this.line(row);
  }

  take(min: number): Uint8Array | null {
    // UTF-16 units, a near enough measure of UTF-8 bytes here (SIS ids and grades are short).
    if (this.text.length < min) return null;
    return this.end();
  }

  end(): Uint8Array {
    const bytes = Buffer.from(this.text, 'utf8');
    this.text = '';
    return bytes;
  }
}

class OneRosterEncoder implements FeedEncoder {
  private readonly rows: FeedRow[] = [];

  push(row: FeedRow): void {
    checkOrder(this.rows[this.rows.length - 1], row);
    this.rows.push(row);
  }

  take(): Uint8Array | null {
    return null;
  }

  end(): Uint8Array {
    return zipOneRoster(oneRosterFiles(this.rows));
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
