import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { intakeBytes, quarantineReasons, type Verdict } from '../../src/intake/index.js';
import { ingest, type Message, type MessageOutcome } from '../../src/sources/ingest.js';
import { openStore } from '../../src/state/store.js';
import { hostileMessages } from '../support/hostile.js';

/**
 * Issue 13's hostile-input suite at the intake boundary: 100,000 generated messages (a seeded mix of
 * innocent events and truncations, wrong types, unsafe integers, deep nesting, huge strings, bytes that
 * are not UTF-8, NUL, BOMs, duplicate and prototype keys, odd whitespace, flipped bytes, far-future
 * clocks). Every message gets exactly one verdict and intake never throws; through the pipeline into a
 * real SQLite state file, every message gets one outcome, every innocent one is folded whatever its
 * neighbours, every quarantined one is stored, and memory stays bounded. It prints its figures.
 */
const COUNT = 100_000;
const REASONS: ReadonlySet<string> = new Set(quarantineReasons);

/** What is wrong with a verdict's shape, or undefined (checked by hand: an expect per message costs more than intake). */
function wrongVerdict(v: Verdict): string | undefined {
  if (v.outcome === 'valid') return ['grade_change', 'course_grade_change', 'grade_override'].includes(v.record.kind) ? undefined : `kind ${v.record.kind}`;
  if (v.outcome === 'ignored') return typeof v.eventName === 'string' ? undefined : 'no event name';
  if (v.outcome !== 'quarantined') return `outcome ${String((v as { outcome: unknown }).outcome)}`;
  if (!REASONS.has(v.reason)) return `reason ${v.reason}`;
  return v.detail.length < 1_000 ? undefined : `a detail of ${v.detail.length} characters`;
}

describe('hostile input through intake', () => {
  it(`${COUNT.toLocaleString('en-US')} generated messages: one verdict each, no throw`, () => {
    const byKind = new Map<string, Record<string, number>>();
    let crashes = 0;
    const started = Date.now();
    for (const m of hostileMessages(COUNT, 13)) {
      let v: Verdict;
      try {
        v = intakeBytes(m.bytes);
      } catch (err) {
        crashes += 1;
        throw new Error(`intake threw on a ${m.kind} message: ${String(err)}`);
      }
      const wrong = wrongVerdict(v) ?? (m.innocent && v.outcome !== 'valid' ? `an innocent event was ${JSON.stringify(v)}` : undefined);
      if (wrong !== undefined) expect.fail(`${m.kind}: ${wrong}: ${m.bytes.subarray(0, 300).toString()}`);
      const label = v.outcome === 'quarantined' ? v.reason : v.outcome;
      const row = byKind.get(m.kind) ?? {};
      row[label] = (row[label] ?? 0) + 1;
      byKind.set(m.kind, row);
    }
    const total = [...byKind.values()].reduce((n, r) => n + Object.values(r).reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(COUNT);
    expect(crashes).toBe(0);
    console.log(`hostile intake: ${total} messages in ${Date.now() - started} ms, crashes 0; verdicts by mutation:`);
    for (const [kind, row] of [...byKind].sort()) console.log(`  ${kind.padEnd(18)} ${JSON.stringify(row)}`);
    // Every mutation was tried, and the suite reached the reasons it is about.
    expect(byKind.size).toBeGreaterThanOrEqual(15);
    const seen = new Set([...byKind.values()].flatMap((r) => Object.keys(r)));
    for (const reason of ['malformed_json', 'invalid_field', 'invalid_utf8', 'unsafe_integer_id', 'future_timestamp', 'not_an_event']) expect(seen).toContain(reason);
  });

  it('through ingest into a SQLite state file: one outcome each, innocents folded beside poison, bounded memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-hostile-'));
    const store = await openStore(`sqlite:${join(dir, 'state.db')}`);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const outcomes: Record<MessageOutcome, number> = { applied: 0, stale: 0, duplicate: 0, ignored: 0, quarantined: 0 };
    let innocents = 0;
    const started = Date.now();
    try {
      let batch: Message[] = [];
      let innocentAt: number[] = [];
      const fold = async () => {
        const r = await ingest(store, batch);
        expect(r.outcomes).toHaveLength(batch.length);
        for (const o of r.outcomes) outcomes[o] += 1;
        const missed = innocentAt.filter((at) => r.outcomes[at] !== 'applied');
        expect(missed.map((at) => batch[at]!.position)).toEqual([]);
        batch = [];
        innocentAt = [];
        peak = Math.max(peak, process.memoryUsage().rss);
      };
      let i = 0;
      for (const m of hostileMessages(COUNT, 31)) {
        if (m.innocent) {
          innocentAt.push(batch.length);
          innocents += 1;
        }
        batch.push({ text: '', bytes: m.bytes, source: 'kafka', position: `hostile/0/${i++}` });
        if (batch.length === 1_000) await fold();
      }
      if (batch.length > 0) await fold();
      const received = Object.values(outcomes).reduce((a, b) => a + b, 0);
      expect(received).toBe(COUNT);
      // Every quarantined message is in the quarantine, once.
      expect((await store.counts()).quarantine).toBe(outcomes.quarantined);
      const grown = (peak - rssBefore) / 2 ** 20;
      console.log(
        `hostile ingest: ${received} messages in ${Date.now() - started} ms: ${JSON.stringify(outcomes)}; ` +
          `${innocents} innocent, all applied; crashes 0; RSS grew ${grown.toFixed(0)} MiB (peak ${(peak / 2 ** 20).toFixed(0)} MiB)`,
      );
      expect(outcomes.applied).toBeGreaterThanOrEqual(innocents);
      expect(grown).toBeLessThan(1024);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
