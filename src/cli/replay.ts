import { loadConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { addCounts, ingest, zeroCounts, type IngestCounts, type Message } from '../sources/ingest.js';
import { openStore } from '../state/store.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { checkReadable, readLines } from './lines.js';

export interface ReplayOptions {
  json?: boolean;
  state?: string;
  batchSize?: string;
}

export const DEFAULT_BATCH_SIZE = 2000;

/**
 * `gradestream replay FILE...`: folds Canvas-format JSON Lines through the same pipeline as the live
 * sources, one transaction per batch of lines; memory stays flat whatever the file size. Invalid
 * lines are quarantined with their `file:line` (an expected outcome, counted: exit 0). Exit 2 for an
 * unreadable file or bad arguments, 1 when the store fails. A replay stopped half-way leaves whole
 * batches folded; running it again is safe, since the fold is idempotent.
 */
export async function replay(files: string[], opts: ReplayOptions, io: CliIo): Promise<number> {
  const batchSize = opts.batchSize === undefined ? DEFAULT_BATCH_SIZE : Number(opts.batchSize);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new UsageError(`--batch-size: ${JSON.stringify(opts.batchSize)} is not a positive integer`);
  }
  const config = loadConfig(io.env, { stateUrl: opts.state });
  await checkReadable(files);
  const store = await openStore(config.stateUrl);
  const totals = zeroCounts();
  try {
    let batch: Message[] = [];
    for await (const { file, line, text } of readLines(files, io.stdin)) {
      batch.push({ text, source: 'replay', position: `${file === '-' ? 'stdin' : file}:${line}` });
      if (batch.length >= batchSize) {
        addCounts(totals, (await ingest(store, batch)).counts);
        batch = [];
      }
    }
    if (batch.length > 0) addCounts(totals, (await ingest(store, batch)).counts);
  } finally {
    await store.close();
  }
  report(totals, opts, io);
  return EXIT.ok;
}

function report(c: IngestCounts, opts: ReplayOptions, io: CliIo): void {
  if (opts.json) {
    writeJson(io, {
      received: c.received,
      applied: c.applied,
      stale: c.stale,
      duplicate: c.duplicate,
      ignored: c.ignored,
      quarantined: c.quarantined,
    });
  } else {
    io.stdout.write(
      `${c.received} received: ${c.applied} applied, ${c.stale} stale, ${c.duplicate} duplicate, ` +
        `${c.ignored} ignored, ${c.quarantined} quarantined\n`,
    );
  }
}
