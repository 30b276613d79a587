import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { intakeMetrics, Registry } from '../../src/metrics.js';
import { ingest, type Message } from '../../src/sources/ingest.js';
import { pino } from 'pino';
import { intakeText } from '../../src/intake/index.js';
import { openStore, type Batch, type StateStore } from '../../src/state/store.js';
import { wrapStore, type WrappedStore } from '../support/stores-wrapped.js';
import { gradeChange, gradeOverride, line } from '../support/grades.js';

/** The pipeline the sources share: every message gets one outcome, counted and measured after commit. */
describe('ingest', () => {
  let store: StateStore;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  const batch = (texts: string[]): Message[] => texts.map((text, i) => ({ text, source: 'sqs', position: `m-${i}` }));
  const texts = [
    line(gradeChange('2020-01-02T00:00:00Z')),
    line(gradeChange('2020-01-02T00:00:00Z')),
    line(gradeChange('2020-01-01T00:00:00Z')),
    JSON.stringify({ metadata: { event_name: 'enrollment_created' }, body: {} }),
    '{"metadata":',
    line(gradeOverride('2020-01-01T00:00:00Z', { override_score: 'high' })),
  ];

  it('gives every message exactly one outcome and stores the invalid ones with their position', async () => {
    const now = Date.parse('2020-01-02T00:01:00Z');
    const r = await ingest(store, batch(texts), { now: () => now });
    expect(r.outcomes).toEqual(['applied', 'duplicate', 'stale', 'ignored', 'quarantined', 'quarantined']);
    expect(r.counts).toEqual({ received: 6, applied: 1, stale: 1, duplicate: 1, ignored: 1, quarantined: 2 });
    const q = await store.listQuarantine({ limit: 10 });
    expect(q.map((e) => [e.source, e.position, e.reason, e.raw, e.received_at])).toEqual([
      ['sqs', 'm-4', 'malformed_json', '{"metadata":', '2020-01-02T00:01:00.000Z'],
      ['sqs', 'm-5', 'invalid_field', texts[5], '2020-01-02T00:01:00.000Z'],
    ]);
  });

  it('counts events_total and quarantined_total, and observes the lag of valid events', async () => {
    const registry = new Registry();
    const metrics = intakeMetrics(registry);
    await ingest(store, batch(texts), { metrics, now: () => Date.parse('2020-01-02T00:01:00Z') });
    const events = (await metrics.events.get()).values.map((v) => [v.labels.event, v.labels.outcome, v.value]);
    expect(events).toEqual(
      expect.arrayContaining([
        ['grade_change', 'applied', 1],
        ['grade_change', 'duplicate', 1],
        ['grade_change', 'stale', 1],
        ['enrollment_created', 'ignored', 1],
        ['unknown', 'quarantined', 1], // not JSON: no event name to tell
        ['grade_change', 'quarantined', 1], // the override's documented event_name
      ]),
    );
    expect(events).toHaveLength(6);
    const reasons = (await metrics.quarantined.get()).values.map((v) => [v.labels.reason, v.value]);
    expect(reasons).toEqual(expect.arrayContaining([['malformed_json', 1], ['invalid_field', 1]]));
    const lag = (await metrics.eventLag.get()).values.find((v) => v.metricName === 'gradestream_event_lag_seconds_count');
    expect(lag?.value).toBe(3);
  });

  it('counts nothing when the store fails: the batch will be redelivered', async () => {
    const registry = new Registry();
    const metrics = intakeMetrics(registry);
    await store.close();
    await expect(ingest(store, batch(texts), { metrics })).rejects.toThrow();
    expect((await metrics.events.get()).values).toEqual([]);
  });
});

/** Issue 13: a message the store fails on is found and quarantined; its neighbours fold. */
describe('ingest isolates a poison message', () => {
  let store: WrappedStore;
  beforeEach(async () => {
    store = wrapStore(await openStore('sqlite::memory:'));
  });
  afterEach(async () => {
    await store.close();
  });

  const students = Array.from({ length: 40 }, (_, i) => `210700000000010${String(i).padStart(2, '0')}`);
  const texts = students.map((s) => line(gradeChange('2020-01-02T00:00:00Z', { student_id: s, user_id: s })));
  const messages = (): Message[] => texts.map((text, i) => ({ text, source: 'kafka', position: `t/0/${i}` }));
  const holds = (student: string) => (batch: Batch) => batch.records.some((r) => r.student_id === student);

  it('quarantines the one record the store fails on (internal_error, its text kept); the other 39 are folded', async () => {
    const registry = new Registry();
    const metrics = intakeMetrics(registry);
    store.poison = holds(students[17]!);
    const r = await ingest(store, messages(), { metrics });
    expect(r.outcomes.filter((o) => o === 'applied')).toHaveLength(39);
    expect(r.outcomes[17]).toBe('quarantined');
    const [entry, ...none] = await store.listQuarantine({ limit: 10 });
    expect(none).toEqual([]);
    expect(entry).toMatchObject({ source: 'kafka', position: 't/0/17', reason: 'internal_error', raw: texts[17] });
    expect(entry!.detail).toMatch(/^the state store failed on this message: Error: injected by the test/);
    for (const s of students.filter((_, i) => i !== 17)) expect((await store.inspect(s)).assignment_scores).toHaveLength(1);
    // Splitting costs a logarithmic number of calls, not one per message.
    expect(store.calls.length).toBeLessThan(20);
    const reasons = (await metrics.quarantined.get()).values.map((v) => [v.labels.reason, v.value]);
    expect(reasons).toEqual([['internal_error', 1]]);
  });

  it('finds two poison records in one batch', async () => {
    store.poison = (batch) => holds(students[3]!)(batch) || holds(students[30]!)(batch);
    const r = await ingest(store, messages());
    expect(r.counts).toMatchObject({ applied: 38, quarantined: 2 });
    expect((await store.listQuarantine({ limit: 10 })).map((e) => e.position)).toEqual(['t/0/3', 't/0/30']);
  });

  it('keeps the normalised record when the source left the text empty (replay keeps no valid line)', async () => {
    store.poison = holds(students[5]!);
    const withVerdicts = messages().map((m) => ({ ...m, text: '', verdict: intakeText(m.text) }));
    await ingest(store, withVerdicts);
    const [entry] = await store.listQuarantine({ limit: 10 });
    expect(entry!.detail).toMatch(/\(raw: the normalised record; the message is at its position\)$/);
    expect(JSON.parse(entry!.raw)).toMatchObject({ kind: 'grade_change', student_id: students[5] });
  });

  it('a store that is unavailable (retryable) fails the whole batch at once, without splitting', async () => {
    store.fail(1);
    await expect(ingest(store, messages())).rejects.toThrow(/unavailable/);
    expect(store.calls).toHaveLength(1);
    expect(await store.listQuarantine({ limit: 10 })).toEqual([]);
  });

  it('a store that fails every call throws, after a bounded number of calls', async () => {
    store.poison = () => true;
    await expect(ingest(store, messages())).rejects.toThrow(/injected/);
    expect(store.calls.length).toBeLessThan(20);
  });
});

describe('metric labels are bounded', () => {
  it('20,000 distinct ignored event names make one `other` series, not 20,000', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const registry = new Registry();
      const metrics = intakeMetrics(registry);
      const names = Array.from({ length: 20_000 }, (_, i) => `made_up_event_${i}`);
      const messages: Message[] = [...names, 'submission_created', 'grade_change_x', '__proto__'].map((name, i) => ({
        text: JSON.stringify({ metadata: { event_name: name }, body: {} }),
        source: 'webhook',
        position: `w-${i}`,
      }));
      const told: unknown[] = [];
      const log = pino({ level: 'debug' }, { write: (line: string) => told.push(JSON.parse(line)) });
      await ingest(store, messages, { metrics, log });
      // The names beyond the label set are told at debug level only.
      expect(told).toHaveLength(20_002);
      expect(told[0]).toMatchObject({ level: 20, event_name: 'made_up_event_0', position: 'w-0' });
      const series = (await metrics.events.get()).values.map((v) => [v.labels.event, v.value]);
      expect(series).toEqual([['other', 20_002], ['submission_created', 1]]);
      expect((await registry.metrics()).length).toBeLessThan(16_000);
    } finally {
      await store.close();
    }
  });
});
