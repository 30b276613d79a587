import { loadConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { intakeText } from '../intake/index.js';
import { addCounts, ingest, zeroCounts, type IngestCounts, type Message } from '../sources/ingest.js';
import { openStore } from '../state/store.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { checkReadable, readLineBatches } from './lines.js';

export interface ReplayOptions {
  json?: boolean;
  state?: string;
  batchSize?: string;
}

/**
 * Lines per transaction. Each commit writes every page the batch touched, and with keys spread at
 * random that is most of the state's hot pages whatever the batch size, so larger batches commit far
 * less per event (`npm run bench replay`: 2,000 → 20,000 lines is about 1.5× the throughput); memory
 * grows with it by a few megabytes, since a batch holds records, not lines.
 */
export const DEFAULT_BATCH_SIZE = 20_000;

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
    for await (const lines of readLineBatches(files, io.stdin)) {
      for (const { file, line, text } of lines) {
        // Intake as each line is read, so that a batch holds records rather than raw lines: only a
        // quarantined line's text is kept (ingest reads no other).
        const verdict = intakeText(text);
        const position = `${file === '-' ? 'stdin' : file}:${line}`;
        batch.push({ text: verdict.outcome === 'quarantined' ? text : '', verdict, source: 'replay', position });
        if (batch.length >= batchSize) {
          addCounts(totals, (await ingest(store, batch)).counts);
          batch = [];
        }
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
