import type { StateStore } from '../state/store.js';
import { ingest, type IngestCounts, type IngestOptions, type Message, type MessageOutcome } from './ingest.js';

/**
 * Folds the batches of concurrent consumers (SQS pollers, Kafka partitions) through `ingest`, one store
 * transaction at a time, merging the batches that wait into the next one (up to `maxMessages`). Idle, a
 * batch is folded after one turn of the event loop; under load, transactions grow — a transaction costs
 * far more than a message, and SQS gives at most 10 messages per receive.
 *
 * Each submitter's promise settles with its own outcomes once its transaction has committed, or rejects
 * with the transaction's error (nothing of it was written): it then acknowledges nothing.
 */
export class FoldQueue {
  private waiting: { messages: readonly Message[]; resolve: (o: MessageOutcome[]) => void; reject: (e: unknown) => void }[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly options: IngestOptions & { maxMessages: number; onFolded?: (counts: IngestCounts) => void },
  ) {}

  fold(messages: readonly Message[]): Promise<MessageOutcome[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ messages, resolve, reject });
      this.running ??= this.run();
    });
  }

  /** Resolves once everything submitted so far is folded (or failed). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  private async run(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        // Let the I/O that completed meanwhile (other pollers' receives) submit first: with a store
        // that works synchronously (SQLite), nothing else runs during a transaction, so without this
        // turn of the event loop no two batches would ever meet.
        await new Promise((resolve) => setImmediate(resolve));
        // Whole batches only: a batch is acknowledged as one, so it is never split between transactions.
        const take = [this.waiting.shift()!];
        let size = take[0]!.messages.length;
        while (this.waiting.length > 0 && size + this.waiting[0]!.messages.length <= this.options.maxMessages) {
          const next = this.waiting.shift()!;
          size += next.messages.length;
          take.push(next);
        }
        try {
          const result = await ingest(this.store, take.length === 1 ? take[0]!.messages : take.flatMap((t) => t.messages), this.options);
          this.options.onFolded?.(result.counts);
          let at = 0;
          for (const t of take) {
            t.resolve(result.outcomes.slice(at, at + t.messages.length));
            at += t.messages.length;
          }
        } catch (err) {
          for (const t of take) t.reject(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
