import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { StoreUnavailableError } from '../../src/errors.js';
import { HttpsSink } from '../../src/sinks/https.js';
import { openSink } from '../../src/sinks/index.js';
import { syncMetrics } from '../../src/sync/metrics.js';
import { Scheduler } from '../../src/sync/scheduler.js';
import { startServer, type TestServer } from '../sinks/server.js';
import { backends, openTestStore, type TestStore } from '../support/stores.js';
import { A1, A2, S1, courseScore, engine, filesIn, fold, grade, readBatch, schedules, tempDir, withAckFailing } from './world.js';

describe.each(backends)('a failed delivery ($name)', (backend) => {
  let t: TestStore;
  let server: TestServer | undefined;
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await server?.close();
    await t.cleanup();
  });

  it('HTTPS 4xx: the run fails with the endpoint\'s message, acks nothing, and the next run sends the rows again', async () => {
    let refuse = true;
    server = await startServer(() =>
      refuse
        ? { status: 422, body: JSON.stringify({ message: 'unknown section MATH-101' }), headers: { 'content-type': 'application/json' } }
        : { status: 201 },
    );
    const registry = new Registry();
    const metrics = syncMetrics(registry);
    const sync = await engine(
      t.store,
      `- {id: nightly, hourOfDay: 2, postedBy: Ada, sink: "${server.url}/grades"}`,
      'file:./unused',
      { metrics, openSink: (url) => (url.startsWith('http') ? new HttpsSink(new URL(url), { maxAttempts: 2, baseDelayMs: 1 }) : openSink(url)) },
    );
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }));

    const failed = await sync.runSchedule('nightly', { by: 'Grace' });
    expect(failed).toMatchObject({ status: 'failed', rows: 0, batch: null });
    expect(failed.error).toMatch(/rejected batch .*: HTTP 422: unknown section MATH-101$/);
    expect(await sync.run(failed.id!)).toEqual(failed); // the history keeps it
    expect(server.requests).toHaveLength(1); // 4xx: not retried

    // Another change meanwhile; the SIS is fixed: the next run sends both (in a new batch).
    await fold(t.store, grade('2026-03-01T11:00:00Z', { assignment: A2, student: S1, score: 6 }));
    refuse = false;
    const ok = await sync.runSchedule('nightly', { by: 'Grace' });
    expect(ok).toMatchObject({ status: 'succeeded', rows: 2, batch: `${server.url}/grades` });
    const second = server.requests[1]!;
    expect(second.headers['idempotency-key']).toBe(ok.batch_id);
    expect(second.headers['idempotency-key']).not.toBe(server.requests[0]!.headers['idempotency-key']);
    expect(second.body.toString().split('\r\n').filter((l) => l.startsWith('assignment,'))).toHaveLength(2);

    const text = await registry.metrics();
    expect(text).toContain('gradestream_sink_errors_total{sink="https"} 1');
    expect(text).toContain('gradestream_sync_runs_total{schedule="nightly",trigger="manual",status="failed"} 1');
    expect(text).toContain('gradestream_sync_rows_total{schedule="nightly",record_type="assignment",op="upsert"} 2');
    expect(text).not.toContain('127.0.0.1'); // never a URL in a label
  });

  it('HTTPS 5xx until retries run out: the batch may have been applied, so a deletion in it goes again even if undone', async () => {
    let down = false;
    server = await startServer(() => (down ? { status: 503, body: 'maintenance' } : { status: 201 }));
    const sync = await engine(t.store, `- {id: nightly, hourOfDay: 2, postedBy: Ada, sink: "${server.url}/grades"}`, 'file:./unused', {
      openSink: (url) => (url.startsWith('http') ? new HttpsSink(new URL(url), { maxAttempts: 2, baseDelayMs: 1 }) : openSink(url)),
    });
    const rows = (n: number) => server!.requests[n]!.body.toString().split('\r\n').slice(1, -1);
    await fold(
      t.store,
      grade('2026-03-01T09:00:00Z', { assignment: A1, student: S1, score: 5 }), // S1's SIS id
      courseScore('2026-03-01T10:00:00Z', { student: S1, current: 50, final: 40 }),
    );
    expect((await sync.runSchedule('nightly', { by: 'Grace' })).rows).toBe(2);

    await fold(t.store, courseScore('2026-03-02T10:00:00Z', { student: S1, workflow: 'deleted' }));
    down = true;
    const failed = await sync.runSchedule('nightly', { by: 'Grace' });
    expect(failed.status).toBe('failed');
    expect(rows(1)).toEqual([expect.stringMatching(/^course,delete,/)]);

    // Undone before the next run: back to the values the SIS had before that (maybe applied) delete.
    await fold(t.store, courseScore('2026-03-03T10:00:00Z', { student: S1, current: 50, final: 40 }));
    down = false;
    expect(await sync.runSchedule('nightly', { by: 'Grace' })).toMatchObject({ status: 'succeeded', rows: 1 });
    expect(rows(server.requests.length - 1)).toEqual([expect.stringMatching(/^course,upsert,.*,40,,,50,40,,,2026-03-03T10:00:00.000Z$/)]);
  });

  it('an unwritable file sink: failed with the reason; once writable, the rows go out', async () => {
    const dir = tempDir('blocked');
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'a file where the outbox directory should be');
    const outbox = join(blocker, 'outbox');
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: Ada}', `file:${outbox}`);
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }));

    const failed = await sync.runSchedule('nightly', { by: 'Grace' });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/cannot write batch .* to .*outbox: ENOTDIR/);

    rmSync(blocker);
    const ok = await sync.runSchedule('nightly', { by: 'Grace' });
    expect(ok.status).toBe('succeeded');
    expect(readBatch(ok.batch).split('\r\n').filter((l) => l.startsWith('assignment,'))).toHaveLength(1);
    expect(filesIn(outbox)).toEqual([`gradestream-${ok.batch_id}.csv`]);
    // and nothing twice afterwards
    expect((await sync.runSchedule('nightly', { by: 'Grace' })).rows).toBe(0);
  });

  it('an acknowledgement that fails leaves the batch pending: the next start delivers it again, same id, and acks it', async () => {
    const outbox = tempDir('outbox');
    const yaml = '- {id: nightly, hourOfDay: 2, postedBy: Ada}';
    const sync = await engine(t.store, yaml, `file:${outbox}`);
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }));
    const failed = await withAckFailing(sync, new StoreUnavailableError('state store unavailable: connection lost'), () =>
      sync.runSchedule('nightly', { by: 'Grace' }),
    );
    expect(failed).toMatchObject({ status: 'failed', error: 'state store unavailable: connection lost' });
    expect((await sync.sync.getBatch(failed.batch_id!))!.status).toBe('pending'); // delivered, maybe: not abandoned
    const [file] = filesIn(outbox);

    const scheduler = new Scheduler({ state: t.store, schedules: schedules(yaml), sinkUrl: `file:${outbox}` });
    try {
      await scheduler.start();
      await scheduler.idle();
      expect(await scheduler.run(failed.id!)).toMatchObject({ status: 'succeeded', rows: 1, batch_id: failed.batch_id, error: null });
    } finally {
      await scheduler.stop();
    }
    expect(filesIn(outbox)).toEqual([file]);
    expect((await sync.runSchedule('nightly', { by: 'Grace' })).rows).toBe(0);
  });
});
