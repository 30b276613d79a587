import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { InputUnreadableError } from '../errors.js';

/** One line of a JSON Lines input, with its source position. */
export interface InputLine {
  /** The file as named on the command line; `stdin` for `-`. */
  file: string;
  line: number;
  text: string;
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
 * does not grow with the input. LF or CRLF endings. Blank lines (a trailing newline, spacing) are not
 * messages: skipped, but they still count in line numbers so positions match an editor's. A UTF-8
 * byte order mark at the start of an input (some Windows editors write one) is not part of its first line.
 */
export async function* readLineBatches(files: readonly string[], stdin: Readable): AsyncGenerator<InputLine[]> {
  for (const file of files) {
    const stream = file === '-' ? stdin : createReadStream(file, { highWaterMark: 1 << 20 });
    const decoder = new StringDecoder('utf8');
    const name = file === '-' ? 'stdin' : file;
    let rest = '';
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
      let text = next.done ? rest + decoder.end() + '\n' : rest + decoder.write(next.value as Buffer);
      if (first && text !== '') {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      const lines: InputLine[] = [];
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        line += 1;
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        const lineText = text.slice(start, end);
        start = nl + 1;
        if (lineText.trim() !== '') lines.push({ file: name, line, text: lineText });
      }
      rest = text.slice(start);
      if (lines.length > 0) yield lines;
      if (next.done) break;
    }
  }
}

/** The lines of `readLineBatches`, one at a time. */
export async function* readLines(files: readonly string[], stdin: Readable): AsyncGenerator<InputLine> {
  for await (const lines of readLineBatches(files, stdin)) yield* lines;
}
