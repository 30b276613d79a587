import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../support/build.js';
import { fixtureText, variant } from '../support/events.js';

/** `gradestream run` as a real process: webhook in, admin API, a manual sync to the file sink, SIGTERM out. */
describe('gradestream run', () => {
  let cli: Awaited<ReturnType<typeof buildCli>>;
  let dir: string;
  let child: ChildProcess;
  let base: string;
  let stderr = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    cli = await buildCli();
    dir = mkdtempSync(join(tmpdir(), 'gradestream-run-'));
    writeFileSync(join(dir, 'schedules.yaml'), '- {id: nightly, hourOfDay: 2, timeZone: America/Denver, postedBy: Registrar}\n');
    writeFileSync(join(dir, 'tokens.yaml'), '- {name: ada, role: admin, token: adm}\n');
    child = spawn(process.execPath, [cli.runner, 'run', '--port', '0', '--state', `sqlite:${join(dir, 'state.db')}`], {
      env: {
        ...process.env,
        GRADESTREAM_SCHEDULES_FILE: join(dir, 'schedules.yaml'),
        GRADESTREAM_SINK_URL: `file:${join(dir, 'outbox')}`,
        GRADESTREAM_ADMIN_TOKENS_FILE: join(dir, 'tokens.yaml'),
        GRADESTREAM_WEBHOOK_SECRET: 's3cret',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const port = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const m = /listening on port (\d+)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`gradestream run exited: ${stderr}`)));
    });
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    cli.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = { authorization: 'Bearer adm' };

  it('is healthy and ready', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    let ready = 503;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = (await fetch(`${base}/readyz`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toBe(200);
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

  it('stops gracefully on SIGTERM with exit 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
