import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { intakeMetrics, Registry } from '../../src/metrics.js';
import { ingest, type Message } from '../../src/sources/ingest.js';
import { openStore, type StateStore } from '../../src/state/store.js';
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
