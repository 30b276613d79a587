import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/sources/coalescer.js';

describe('Coalescer', () => {
  it('batches concurrent submissions and answers each with its own result', async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, string>(async (items) => {
      batches.push(items);
      return items.map((i) => `r${i}`);
    }, { maxItems: 3, maxDelayMs: 20 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => c.submit(i)));
    expect(results).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(batches).toEqual([[1, 2, 3], [4, 5]]);
  });

  it('rejects every submitter of a failed flush, and later batches still run', async () => {
    let fail = true;
    const c = new Coalescer<number, number>(async (items) => {
      if (fail) throw new Error('store down');
      return items;
    }, { maxItems: 10, maxDelayMs: 1 });
    const failed = await Promise.allSettled([c.submit(1), c.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await c.submit(3)).toBe(3);
  });

  it('close() flushes what is pending without waiting for the delay', async () => {
    const seen: number[] = [];
    const c = new Coalescer<number, number>(async (items) => (seen.push(...items), items), { maxItems: 100, maxDelayMs: 60_000 });
    const p = c.submit(7);
    await c.close();
    expect(await p).toBe(7);
    expect(seen).toEqual([7]);
  });
});
