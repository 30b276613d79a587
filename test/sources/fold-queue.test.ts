import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FoldQueue } from '../../src/sources/fold-queue.js';
import { addCounts, ingest, zeroCounts, type Message } from '../../src/sources/ingest.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import { eventLines } from '../support/grades.js';
import { wrapStore, type WrappedStore } from '../support/stores-wrapped.js';

/** Batches of concurrent consumers folded one transaction at a time, merged while they wait. */
describe('FoldQueue', () => {
  let store: StateStore;
  let wrapped: WrappedStore;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    wrapped = wrapStore(store);
    wrapped.delayMs = 20;
  });
  afterEach(async () => {
    await store.close();
  });

  const events = eventLines(40);
  const batch = (from: number, n: number): Message[] =>
    events.slice(from, from + n).map((text, i) => ({ text, source: 'sqs', position: `m-${from + i}` }));

  it('folds an idle batch at once and merges the batches that wait, whole, up to maxMessages', async () => {
    const totals = zeroCounts();
    const q = new FoldQueue(wrapped, { maxMessages: 25, onFolded: (c) => addCounts(totals, c) });
    const sizes = [10, 10, 10, 6, 4];
    const results = await Promise.all(sizes.map((n, i) => q.fold(batch(sizes.slice(0, i).reduce((a, b) => a + b, 0), n))));
    // Submitted together, they wait one turn of the event loop and merge: 10 + 10 (a third 10 would pass
    // 25, and a batch is never split), then 10 + 6 + 4.
    expect(wrapped.calls.map((c) => c.records.length)).toEqual([20, 20]);
    expect(results.map((r) => r.length)).toEqual(sizes);
    expect(totals.received).toBe(40);
    // Each submitter gets its own outcomes: the same as folding everything in one go.
    const reference = await openStore('sqlite::memory:');
    expect(results.flat()).toEqual((await ingest(reference, batch(0, 40))).outcomes);
    await reference.close();
  });

  it('hands the store two transactions at once, no more, and every submitter still gets its own outcomes', async () => {
    let open = 0;
    let most = 0;
    const counting = new Proxy(wrapped, {
      get(target, prop) {
        if (prop !== 'apply') return Reflect.get(target, prop);
        return async (b: Parameters<StateStore['apply']>[0]) => {
          most = Math.max(most, ++open);
          try {
            return await target.apply(b);
          } finally {
            open -= 1;
          }
        };
      },
    });
    const q = new FoldQueue(counting, { maxMessages: 5 });
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 8; i++) {
      pending.push(q.fold(batch(i * 5, 5)));
      await new Promise((r) => setTimeout(r, 2));
    }
    const results = (await Promise.all(pending)) as Awaited<ReturnType<FoldQueue['fold']>>[];
    expect(most).toBe(2);
    expect(wrapped.calls).toHaveLength(8);
    const reference = await openStore('sqlite::memory:');
    expect(results.flat()).toEqual((await ingest(reference, batch(0, 40))).outcomes);
    await reference.close();
  });

  it('rejects every batch of a failed transaction, and only those', async () => {
    const q = new FoldQueue(wrapped, { maxMessages: 100 });
    wrapped.fail(1); // the first transaction: the three batches merged into it
    const settled = await Promise.allSettled([q.fold(batch(0, 5)), q.fold(batch(5, 5)), q.fold(batch(10, 5))]);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const after = await Promise.allSettled([q.fold(batch(15, 5))]);
    expect(after[0]!.status).toBe('fulfilled');
    await q.idle();
    expect(wrapped.calls.map((c) => c.records.length)).toEqual([15, 5]);
  });
});
