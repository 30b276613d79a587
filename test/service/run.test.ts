import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../support/build.js';
import { startRunProcess, type RunningService } from '../support/service.js';
import { fixtureText, variant } from '../support/events.js';

/** `gradestream run` as a real process: webhook in, admin API, a manual sync to the file sink, SIGTERM out. */
describe('gradestream run', () => {
  let service: RunningService;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    service = await startRunProcess();
    ({ base, dir } = service);
  });
  afterAll(() => service.stop());

  const admin = { authorization: 'Bearer adm' };

  it('is healthy and ready', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('folds webhook events, syncs them on request and records who asked', async () => {
    const post = (body: string) => fetch(`${base}/events`, { method: 'POST', body, headers: { 'x-gradestream-secret': 's3cret' } });
    expect(await (await post(fixtureText('grade_change'))).json()).toEqual({ outcome: 'applied' });
    expect((await post(JSON.stringify(variant('grade_change', { body: { score: 'x' } })))).status).toBe(200);

    const run = await fetch(`${base}/api/schedules/nightly/run`, { method: 'POST', headers: admin });
    expect(run.status).toBe(200);
    const entry = (await run.json()) as { status: string; rows: number; triggered_by: string; trigger: string; batch: string };
    expect(entry).toMatchObject({ status: 'succeeded', rows: 1, triggered_by: 'ada', trigger: 'manual' });
    const files = readdirSync(join(dir, 'outbox')).filter((f) => f.endsWith('.csv'));
    expect(files).toHaveLength(1);
    const csv = readFileSync(join(dir, 'outbox', files[0]!), 'utf8');
    expect(csv.split('\r\n')[1]).toBe(
      'assignment,upsert,21070000000000001,21070000000000565,2017.100.101.101-1,21070000000000048,ABC.123,21070000000000355,,5,5,1,,,,true,2019-11-01T19:11:05.222Z',
    );

    const runs = (await (await fetch(`${base}/api/runs`, { headers: admin })).json()) as unknown[];
    expect(runs).toHaveLength(1);
    const quarantine = (await (await fetch(`${base}/api/quarantine`, { headers: admin })).json()) as { reason: string }[];
    expect(quarantine.map((q) => q.reason)).toEqual(['invalid_field']);
    expect((await fetch(`${base}/api/schedules/nope/run`, { method: 'POST', headers: admin })).status).toBe(404);
  });

  it('exports the metrics SPEC §7.4 names', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/gradestream_events_total\{source="webhook",event="grade_change",outcome="applied"\} 1/);
    expect(text).toMatch(/gradestream_quarantined_total\{reason="invalid_field"\} 1/);
    expect(text).toMatch(/gradestream_sync_runs_total\{schedule="nightly",trigger="manual",status="succeeded"\} 1/);
    expect(text).toMatch(/gradestream_schedule_next_run_timestamp_seconds\{schedule="nightly"\} \d+/);
    expect(text).toMatch(/gradestream_webhook_unauthenticated 0/);
    expect(text).toMatch(/gradestream_state_records\{kind="assignment_score"\} 1/);
    expect(text).not.toMatch(/21070000000000048/); // never an id as a label
  });

  it('answers a resend as `resend --json` prints it: who, when (ISO), what each target forgot', async () => {
    const r = await fetch(`${base}/api/resend`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: '{"all":true}' });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { requested_at: string };
    expect(body).toEqual({
      selector: 'all',
      id: null,
      requested_by: 'ada',
      requested_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      targets: [{ target: `file:${join(dir, 'outbox')}`, resend_id: expect.stringMatching(/^\d+$/), unacked: 1 }],
    });
  });

  it('stops gracefully on SIGTERM with exit 0', async () => {
    service.child.kill('SIGTERM');
    expect(await service.exited).toBe(0);
  });
});

describe('gradestream run with an invalid configuration', () => {
  it('stops at start, before listening, with every problem listed, the files named included (exit 2)', async () => {
    const cli = await buildCli();
    try {
      const result = await promisify(execFile)(process.execPath, [cli.runner, 'run', '--port', '0', '--state', 'sqlite:'], {
        env: { ...process.env, GRADESTREAM_KAFKA_BROKERS: '127.0.0.1:9', GRADESTREAM_SCHEDULES_FILE: '/nonexistent/schedules.yaml' },
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
      );
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        'gradestream: invalid configuration (3 problems):\n' +
          '  - --state ("sqlite:"): sqlite: needs a path (sqlite:PATH)\n' +
          '  - GRADESTREAM_KAFKA_TOPICS: required when GRADESTREAM_KAFKA_BROKERS is set\n' +
          '  - /nonexistent/schedules.yaml: cannot read the schedules file (ENOENT: no such file or directory, open \'/nonexistent/schedules.yaml\')\n',
      );
    } finally {
      cli.remove();
    }
  });
});
