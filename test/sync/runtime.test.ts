import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import { syncMetrics } from '../../src/sync/metrics.js';
import type { HistoryEntry, SyncEngine } from '../../src/sync/engine.js';
import { SinkRejectedError } from '../../src/sinks/index.js';
import { Scheduler } from '../../src/sync/scheduler.js';
import { backends, openTestStore, type TestStore } from '../support/stores.js';
import { A1, A2, A3, S1, engine, fold, grade, schedules, tempDir } from './world.js';

const NIGHTLY = '- {id: nightly, hourOfDay: 2, timeZone: UTC, postedBy: Ada Admin}';
const at = (iso: string) => Date.parse(iso);
const day = (n: number) => at(`2026-03-0${n}T02:00:00Z`); // the occurrences
const MINUTE = 60_000;

describe.each(backends)('schedules at run time ($name)', (backend) => {
  let t: TestStore;
  let outbox: string;
  let now: number;
  const clock = () => now;
  const open = (yaml = NIGHTLY) => engine(t.store, yaml, `file:${outbox}`, { clock });
  beforeEach(async () => {
    t = await openTestStore(backend);
    outbox = tempDir('outbox');
    now = at('2026-03-01T12:00:00Z');
  });
  afterEach(async () => {
    await t.cleanup();
  });
  const summary = (e: HistoryEntry) => [e.trigger, e.status, e.scheduled_for, e.rows];

  it('suspended: occurrences are recorded as skipped, run now still works, resume carries what accumulated', async () => {
    let sync = await open();
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }));
    await sync.pause('nightly', 'Ada');

    now = day(2) + MINUTE;
    expect((await sync.tick()).map(summary)).toEqual([['scheduled', 'skipped', '2026-03-02T02:00:00.000Z', 0]]);
    expect(await sync.tick()).toEqual([]); // an occurrence is handled once

    // Run now works whatever the status, and says who asked.
    now += MINUTE;
    const manual = await sync.runSchedule('nightly', { by: 'Grace Registrar' });
    expect(manual).toMatchObject({ trigger: 'manual', triggered_by: 'Grace Registrar', status: 'succeeded', rows: 1, scheduled_for: null });

    await fold(
      t.store,
      grade('2026-03-02T10:00:00Z', { assignment: A2, student: S1, score: 6 }),
      grade('2026-03-03T10:00:00Z', { assignment: A3, student: S1, score: 7 }),
    );
    now = day(3) + MINUTE;
    expect((await sync.tick()).map(summary)).toEqual([['scheduled', 'skipped', '2026-03-03T02:00:00.000Z', 0]]);

    // The pause survives closing and reopening the store.
    await t.store.close();
    t.store = await openStore(t.url);
    sync = await open();
    expect((await sync.list(now))[0]).toMatchObject({ id: 'nightly', status: 'suspended', status_changed_by: 'Ada' });

    now = day(3) + 2 * MINUTE;
    await sync.resume('nightly', 'Ada');
    // Resume does not run the missed occurrences at once, nor does a restart catch them up.
    expect(await sync.tick()).toEqual([]);
    expect(await sync.catchUp()).toEqual([]);
    await t.store.close();
    t.store = await openStore(t.url);
    sync = await open();
    expect((await sync.list(now))[0]!.status).toBe('enabled');

    now = day(4) + MINUTE;
    const [next] = await sync.tick();
    expect(next).toMatchObject({ trigger: 'scheduled', triggered_by: 'Ada Admin', status: 'succeeded', rows: 2 });
    expect((await sync.runs({ limit: 10 })).map((e) => [e.trigger, e.status])).toEqual([
      ['scheduled', 'succeeded'],
      ['scheduled', 'skipped'],
      ['manual', 'succeeded'],
      ['scheduled', 'skipped'],
    ]);
  });

  it('catches up once after downtime, not once per missed day; never on a first start', async () => {
    const sync = await open(`${NIGHTLY}\n- {id: fresh, hourOfDay: 3, postedBy: Bo}`);
    // Never ran: a first start does not run the occurrence before it.
    now = day(2) + 5 * MINUTE;
    expect(await sync.catchUp()).toEqual([]);

    await sync.runOccurrence('nightly', day(2), 'scheduled');
    await fold(t.store, grade('2026-03-02T10:00:00Z', { assignment: A1, student: S1, score: 5 }));
    // Down from day 2 until day 5, 07:00: three occurrences missed, one catch-up run.
    now = at('2026-03-05T07:00:00Z');
    const caught = await sync.catchUp();
    expect(caught.map(summary)).toEqual([['catch_up', 'succeeded', '2026-03-05T02:00:00.000Z', 1]]);
    expect(caught[0]!.triggered_by).toBe('Ada Admin');
    expect(await sync.catchUp()).toEqual([]);
    const nightly = (entries: HistoryEntry[]) => entries.filter((e) => e.schedule === 'nightly');
    expect(nightly(await sync.tick())).toEqual([]); // that occurrence is taken

    // A manual run after the missed occurrence also counts as "a run since".
    now = at('2026-03-06T05:00:00Z');
    await sync.runSchedule('nightly', { by: 'Grace' });
    now = at('2026-03-07T07:00:00Z');
    expect(nightly(await sync.catchUp()).map(summary)).toEqual([['catch_up', 'succeeded', '2026-03-07T02:00:00.000Z', 0]]);
  });

  it("records a suspended schedule's occurrence missed while down as skipped, once", async () => {
    const sync = await open();
    now = day(1) + MINUTE;
    await sync.pause('nightly', 'Ada');
    now = day(2) + MINUTE;
    expect((await sync.tick()).map(summary)).toEqual([['scheduled', 'skipped', '2026-03-02T02:00:00.000Z', 0]]);
    // Down from day 2 until day 4, 07:00: the latest occurrence is recorded, as it would have been.
    now = at('2026-03-04T07:00:00Z');
    expect((await sync.catchUp()).map(summary)).toEqual([['scheduled', 'skipped', '2026-03-04T02:00:00.000Z', 0]]);
    expect(await sync.catchUp()).toEqual([]);
    expect(await sync.tick()).toEqual([]);
    // Paused after the occurrence it missed: nothing is recorded for it (it was enabled then).
    const other = await open(`${NIGHTLY.replace('nightly', 'other')}`);
    now = at('2026-03-05T07:00:00Z');
    await other.pause('other', 'Ada');
    expect(await other.catchUp()).toEqual([]);
  });

  it('the Scheduler runs occurrences as they come due, and catches up on start', async () => {
    const sync = await open();
    await sync.runOccurrence('nightly', day(1), 'scheduled');
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }));
    now = day(3) + 3 * 60 * MINUTE; // down on day 2 and 3
    const registry = new Registry();
    const metrics = syncMetrics(registry);
    const scheduler = new Scheduler({ state: t.store, schedules: schedules(NIGHTLY), sinkUrl: `file:${outbox}`, clock, maxSleepMs: 10, metrics });
    try {
      await scheduler.start();
      await scheduler.idle();
      expect((await scheduler.runs({ limit: 1 })).map(summary)).toEqual([['catch_up', 'succeeded', '2026-03-03T02:00:00.000Z', 1]]);

      await fold(t.store, grade('2026-03-03T10:00:00Z', { assignment: A2, student: S1, score: 6 }));
      now = day(4) - 1000;
      await new Promise((r) => setTimeout(r, 50));
      expect((await scheduler.runs({ limit: 10 })).length).toBe(2); // not due yet
      now = day(4) + 1000;
      for (let i = 0; i < 200 && (await scheduler.runs({ limit: 10 })).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      await scheduler.idle();
      expect((await scheduler.runs({ limit: 1 })).map(summary)).toEqual([['scheduled', 'succeeded', '2026-03-04T02:00:00.000Z', 1]]);

      const gauges = await registry.metrics();
      expect(gauges).toContain(`gradestream_schedule_next_run_timestamp_seconds{schedule="nightly"} ${day(5) / 1000}`);
      expect(gauges).toContain('gradestream_schedule_suspended{schedule="nightly"} 0');
      expect(gauges).toContain(`gradestream_sync_last_success_timestamp_seconds{schedule="nightly"} ${(day(4) + 1000) / 1000}`);
      expect(gauges).toContain('gradestream_sync_runs_total{schedule="nightly",trigger="catch_up",status="succeeded"} 1');
      expect(gauges).toContain('gradestream_sync_held_records{schedule="nightly",reason="unposted"} 0');

      await scheduler.pause('nightly', 'Ada');
      expect(await registry.metrics()).toContain('gradestream_schedule_suspended{schedule="nightly"} 1');
      now = day(5) + 1000;
      for (let i = 0; i < 200 && (await scheduler.runs({ limit: 10 })).length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      expect((await scheduler.runs({ limit: 1 })).map(summary)).toEqual([['scheduled', 'skipped', '2026-03-05T02:00:00.000Z', 0]]);
      expect(await registry.metrics()).toContain('gradestream_sync_runs_total{schedule="nightly",trigger="scheduled",status="skipped"} 1');
    } finally {
      await scheduler.stop();
    }
  });
});

describe.each(backends)('metrics of several replicas ($name)', (backend) => {
  it("a replica that did not run exports the store's last success and failure, held rows and status at its next check", async () => {
    const t = await openTestStore(backend);
    const outbox = tempDir('replicas');
    let now = at('2026-03-01T12:00:00Z');
    const replica = () => {
      const registry = new Registry();
      const scheduler = new Scheduler({ state: t.store, schedules: schedules(NIGHTLY), sinkUrl: `file:${outbox}`, clock: () => now, metrics: syncMetrics(registry) });
      return { registry, scheduler };
    };
    const [a, b] = [replica(), replica()];
    let c: Scheduler | undefined;
    try {
      await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }), grade('2026-03-01T10:01:00Z', { assignment: A2, student: S1, score: 6, muted: true }));
      now += MINUTE;
      await a.scheduler.runNow('nightly', 'Ada'); // replica a runs; b only checks the clock
      await a.scheduler.pause('nightly', 'Ada');
      await b.scheduler.check(now);
      const gauges = await b.registry.metrics();
      expect(gauges).toContain(`gradestream_sync_last_success_timestamp_seconds{schedule="nightly"} ${now / 1000}`);
      expect(gauges).toContain('gradestream_sync_held_records{schedule="nightly",reason="unposted"} 1');
      expect(gauges).toContain('gradestream_schedule_suspended{schedule="nightly"} 1');
      expect(gauges).toContain('gradestream_sync_ever_succeeded{schedule="nightly"} 1');
      expect(gauges).toContain('gradestream_sync_last_failure_timestamp_seconds{schedule="nightly"} 0');

      // A third replica's run fails at the SIS: b reads the failure from the history, the success stays.
      const succeededAt = now;
      now += MINUTE;
      await fold(t.store, grade('2026-03-01T10:05:00Z', { assignment: A3, student: S1, score: 7 }));
      const refusing = {
        target: 'refusing',
        deliver: async () => {
          throw new SinkRejectedError('the SIS refused the batch', 400);
        },
      };
      c = new Scheduler({ state: t.store, schedules: schedules(NIGHTLY), sinkUrl: `file:${outbox}`, clock: () => now, openSink: () => refusing });
      expect((await c.runNow('nightly', 'Ada')).status).toBe('failed');
      await b.scheduler.check(now);
      const after = await b.registry.metrics();
      expect(after).toContain(`gradestream_sync_last_failure_timestamp_seconds{schedule="nightly"} ${now / 1000}`);
      expect(after).toContain(`gradestream_sync_last_success_timestamp_seconds{schedule="nightly"} ${succeededAt / 1000}`);
      expect(after).toContain('gradestream_sync_ever_succeeded{schedule="nightly"} 1');
    } finally {
      await c?.stop();
      await a.scheduler.stop();
      await b.scheduler.stop();
      await t.cleanup();
    }
  });
});

describe('a schedule in a zone with DST', () => {
  it('claims the occurrence after a spring-forward gap once', async () => {
    const t = await openTestStore(backends[0]!);
    try {
      let now = at('2026-03-08T09:30:00Z'); // Denver: 03:30 MDT, after the 02:00 → 03:00 gap
      const sync: SyncEngine = await engine(t.store, '- {id: d, hourOfDay: 2, timeZone: America/Denver, postedBy: X}', `file:${tempDir('dst')}`, {
        clock: () => now,
      });
      const [e] = await sync.tick();
      expect(e!.scheduled_for).toBe('2026-03-08T09:00:00.000Z'); // 03:00 MDT, the first instant after the gap
      now += 60 * MINUTE;
      expect(await sync.tick()).toEqual([]);
    } finally {
      await t.cleanup();
    }
  });
});
