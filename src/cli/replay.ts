import { UsageError } from '../errors.js';
import { intakeText, invalidUtf8 } from '../intake/index.js';
import { addCounts, ingest, zeroCounts, type IngestCounts, type Message } from '../sources/ingest.js';
import { openStore } from '../state/store.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { checkReadable, readLineBatches } from './lines.js';
import { commandConfig, type SharedOptions } from './options.js';

export interface ReplayOptions extends SharedOptions {
  batchSize?: string;
}

/**
 * Lines per batch handed to the store. Batches are small so that a batch's records are dropped soon
 * after they are read; the store's writer folds the batches that queue up behind a transaction into
 * the next one (see src/state/sqlite-worker.ts), so transactions stay large where that pays.
 */
export const DEFAULT_BATCH_SIZE = 2_000;

/** Lines in batches handed to the store and not yet folded: enough for the writer's largest transaction. */
const IN_FLIGHT_LINES = 80_000;

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
  const config = commandConfig(opts, io);
  await checkReadable(files);
  const store = await openStore(config.stateUrl);
  const totals = zeroCounts();
  // Batches fold (on the store's writer, in call order) while the next are read and taken in, so the
  // two halves of the work overlap instead of taking turns.
  const folding: Promise<void>[] = [];
  const inFlight = Math.max(2, Math.ceil(IN_FLIGHT_LINES / batchSize));
  const fold = async (batch: Message[]): Promise<void> => {
    if (folding.length >= inFlight) await folding.shift();
    const next = ingest(store, batch).then((r) => addCounts(totals, r.counts));
    next.catch(() => undefined); // awaited in turn; not an unhandled rejection meanwhile
    folding.push(next);
  };
  try {
    let batch: Message[] = [];
    const maxFutureMs = config.maxFutureSeconds * 1000;
    for await (const lines of readLineBatches(files, io.stdin)) {
      const intake = { receivedAt: Date.now(), maxFutureMs };
      for (const { file, line, text, bytes } of lines) {
        // Intake as each line is read, so that a batch holds records rather than raw lines: only a
        // quarantined line's text is kept (ingest reads no other).
        const verdict = bytes === undefined ? intakeText(text, intake) : invalidUtf8(bytes);
        const position = `${file}:${line}`;
        batch.push({ text: verdict.outcome === 'quarantined' ? text : '', bytes, verdict, source: 'replay', position });
        if (batch.length >= batchSize) {
          await fold(batch);
          batch = [];
        }
      }
    }
    if (batch.length > 0) await fold(batch);
    while (folding.length > 0) await folding.shift();
  } finally {
    await Promise.allSettled(folding);
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
