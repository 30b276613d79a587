/**
 * Gathers items submitted one at a time (webhook requests) into batches, so that many concurrent
 * deliveries share one store transaction. Each submitter's promise settles after its batch's flush:
 * a webhook answers 2xx only once its event is durably folded or quarantined.
 */
export class Coalescer<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly options: { maxItems: number; maxDelayMs: number } = { maxItems: 500, maxDelayMs: 5 },
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxItems) this.drain();
      else this.timer ??= setTimeout(() => this.drain(), this.options.maxDelayMs);
    });
  }

  /** Flushes what is pending and waits for every flush under way (graceful stop). */
  async close(): Promise<void> {
    this.drain();
    await this.flushing;
  }

  private drain(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    // Flushes run one after another: a store transaction at a time, in arrival order.
    this.flushing = this.flushing.then(async () => {
      try {
        const results = await this.flush(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    });
  }
}
