import type { StateStore } from '../state/store.js';
import { ingest, type IngestCounts, type IngestOptions, type Message, type MessageOutcome } from './ingest.js';

/**
 * Folds the batches of concurrent consumers (SQS pollers, Kafka partitions) through `ingest`, merging
 * the batches that wait into the next transaction (up to `maxMessages`). Idle, a batch is folded after
 * one turn of the event loop; under load, transactions grow — a transaction costs far more than a
 * message, and SQS gives at most 10 messages per receive. Up to `inFlight` (2) transactions are handed
 * to the store at once: the store folds them in call order, and its writer (a worker thread for
 * SQLite) then always has the next one in hand while this thread plans the one after.
 *
 * Each submitter's promise settles with its own outcomes once its transaction has committed, or rejects
 * with the transaction's error (nothing of it was written): it then acknowledges nothing.
 */
export class FoldQueue {
  private waiting: { messages: readonly Message[]; resolve: (o: MessageOutcome[]) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  private scheduled = false;
  private readonly settled = new Set<() => void>();

  constructor(
    private readonly store: StateStore,
    private readonly options: IngestOptions & { maxMessages: number; inFlight?: number; onFolded?: (counts: IngestCounts) => void },
  ) {}

  fold(messages: readonly Message[]): Promise<MessageOutcome[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ messages, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far is folded (or failed). */
  async idle(): Promise<void> {
    while (this.running > 0 || this.waiting.length > 0) await new Promise<void>((resolve) => this.settled.add(resolve));
  }

  private schedule(): void {
    if (this.scheduled || this.running >= (this.options.inFlight ?? 2) || this.waiting.length === 0) return;
    this.scheduled = true;
    // Let the I/O that completed meanwhile (other pollers' receives) submit first, so that batches
    // arriving together meet in one transaction.
    setImmediate(() => {
      this.scheduled = false;
      this.start();
      this.schedule();
    });
  }

  private start(): void {
    if (this.waiting.length === 0) return;
    // Whole batches only: a batch is acknowledged as one, so it is never split between transactions.
    const take = [this.waiting.shift()!];
    let size = take[0]!.messages.length;
    while (this.waiting.length > 0 && size + this.waiting[0]!.messages.length <= this.options.maxMessages) {
      const next = this.waiting.shift()!;
      size += next.messages.length;
      take.push(next);
    }
    this.running += 1;
    ingest(this.store, take.length === 1 ? take[0]!.messages : take.flatMap((t) => t.messages), this.options)
      .then((result) => {
        this.options.onFolded?.(result.counts);
        let at = 0;
        for (const t of take) {
          t.resolve(result.outcomes.slice(at, at + t.messages.length));
          at += t.messages.length;
        }
      })
      .catch((err: unknown) => {
        for (const t of take) t.reject(err);
      })
      .finally(() => {
        this.running -= 1;
        this.schedule();
        for (const wake of this.settled) wake();
        this.settled.clear();
      });
  }
}
