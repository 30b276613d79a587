import { afterEach, describe, expect, it } from 'vitest';
import { backends, openTestStore, type TestStore } from '../support/stores.js';
import { cli } from '../support/cli.js';
import { fixtureText, variant } from '../support/events.js';

describe.each(backends)('gradestream quarantine on $name', (backend) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('lists entries and re-drives those now valid or ignored in one transaction', async () => {
    t = await openTestStore(backend);
    const now = Date.UTC(2026, 10, 25);
    const stillBad = JSON.stringify(variant('grade_change', { metadata: { event_time: '2019-11-01T19:11:05' } }));
    // As if an older gradestream, or a producer bug fixed since, had quarantined good messages.
    await t.store.apply({
      records: [],
      quarantine: [
        { source: 'sqs', position: 'm-1', reason: 'invalid_field', detail: 'old rule', raw: fixtureText('grade_change'), received_at: now },
        { source: 'sqs', position: 'm-2', reason: 'timestamp_without_offset', detail: 'no offset', raw: stillBad, received_at: now },
        { source: 'webhook', position: 'w-1', reason: 'not_an_event', detail: 'x', raw: JSON.stringify({ metadata: { event_name: 'asset_accessed' }, body: {} }), received_at: now },
      ],
    });

    const list = await cli(['quarantine', 'list', '--json', '--state', t.url]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).quarantine.map((e: { position: string }) => e.position)).toEqual(['m-1', 'm-2', 'w-1']);

    const redrive = await cli(['quarantine', 'redrive', '--json', '--state', t.url]);
    expect(redrive.code).toBe(0);
    expect(JSON.parse(redrive.stdout)).toEqual({ examined: 3, applied: 1, stale: 0, duplicate: 0, ignored: 1, still_quarantined: 1 });
    const left = await t.store.listQuarantine({ limit: 10 });
    expect(left.map((e) => e.position)).toEqual(['m-2']);
    expect((await t.store.inspect('21070000000000048')).assignment_scores).toHaveLength(1);

    // --reason filters; nothing else changes
    const again = await cli(['quarantine', 'redrive', '--json', '--reason', 'invalid_field', '--state', t.url]);
    expect(JSON.parse(again.stdout)).toMatchObject({ examined: 0 });
    expect((await cli(['quarantine', 'redrive', '--reason', 'nonsense', '--state', t.url])).code).toBe(2);
  });
});
