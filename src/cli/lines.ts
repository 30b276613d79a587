import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { InputUnreadableError } from '../errors.js';

/** One line of a JSON Lines input, with its source position. */
export interface InputLine {
  /** The file as named on the command line; `stdin` for `-`. */
  file: string;
  line: number;
  /** The line as text (U+FFFD where its bytes are not UTF-8). */
  text: string;
  /** The line's bytes, only when they are not UTF-8: intake quarantines it as invalid_utf8, with these. */
  bytes?: Buffer;
}

/** Fails before any work if an input cannot be read, so a run never stops half-way for that. */
export async function checkReadable(files: readonly string[]): Promise<void> {
  for (const file of files) {
    if (file === '-') continue;
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(file)).isDirectory();
    } catch (err) {
      throw new InputUnreadableError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (isDirectory) throw new InputUnreadableError(`cannot read ${file}: it is a directory`);
  }
}

/**
 * Streams the lines of each file in turn (`-` = stdin), a chunk of input at a time (one array per
 * chunk read, never empty: a per-line async iteration costs more than parsing some lines); memory
 * does not grow with the input. LF or CRLF endings. Blank lines (a trailing newline, spacing: nothing
 * but JSON whitespace) are not messages: skipped, but they still count in line numbers so positions
 * match an editor's. A line of anything else (a no-break space, U+2028) is a message and gets a
 * verdict. A UTF-8 byte order mark at the start of an input (some Windows editors write one) is not
 * part of its first line. A line whose bytes are not UTF-8 comes with them (`bytes`), never repaired.
 */
export async function* readLineBatches(files: readonly string[], stdin: Readable): AsyncGenerator<InputLine[]> {
  for (const file of files) {
    const stream = file === '-' ? stdin : createReadStream(file, { highWaterMark: 1 << 20 });
    const name = file === '-' ? 'stdin' : file;
    let rest: Buffer = Buffer.alloc(0);
    let line = 0;
    let first = true;
    const chunks = stream[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer | string>;
      try {
        next = await chunks.next();
      } catch (err) {
        throw new InputUnreadableError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      const chunk = next.done ? NEWLINE : typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      let data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      if (first && data.length >= 3) {
        if (data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) data = data.subarray(3);
        first = false;
      }
      // Whole lines only: a chunk may end inside a line, or inside a character.
      const end = data.lastIndexOf(10) + 1;
      rest = Buffer.from(data.subarray(end)); // a copy: the chunk it points into is not kept
      const lines: InputLine[] = [];
      const add = (text: string, bytes?: Buffer): void => {
        line += 1;
        if (bytes === undefined && BLANK.test(text)) return;
        lines.push(bytes === undefined ? { file: name, line, text } : { file: name, line, text, bytes });
      };
      const whole = data.subarray(0, end);
      if (isUtf8(whole)) {
        // The usual case: all text, split as a string.
        const text = whole.toString('utf8');
        let start = 0;
        for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
          add(text.slice(start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl));
          start = nl + 1;
        }
      } else {
        let start = 0;
        for (let nl = whole.indexOf(10); nl !== -1; nl = whole.indexOf(10, start)) {
          const bytes = whole.subarray(start, nl > start && whole[nl - 1] === 13 ? nl - 1 : nl);
          if (isUtf8(bytes)) add(bytes.toString('utf8'));
          else add(bytes.toString('utf8'), Buffer.from(bytes));
          start = nl + 1;
        }
      }
      if (lines.length > 0) yield lines;
      if (next.done) break;
    }
  }
}

const NEWLINE = Buffer.from('\n');
/** Nothing but JSON whitespace (RFC 8259: space, tab, CR; LF ends the line). */
const BLANK = /^[ \t\r]*$/;

/** The lines of `readLineBatches`, one at a time. */
export async function* readLines(files: readonly string[], stdin: Readable): AsyncGenerator<InputLine> {
  for await (const lines of readLineBatches(files, stdin)) yield* lines;
}
