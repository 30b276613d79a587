import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRunProcess, type RunningService } from '../support/service.js';

/** One sample's value from a Prometheus text exposition (undefined: no such series). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const admin = { authorization: 'Bearer adm' };

/**
 * What an operator relies on (issue 15): every series an alert reads present from the first scrape,
 * the exposition clean for promtool, HTTP requests counted by route template, every log line JSON, one
 * error line per failed run, and the history-derived gauges back after a restart.
 */
describe('gradestream run, operated', () => {
  let sis: Server;
  let dir: string;
  let service: RunningService;
  let base: string;

  beforeAll(async () => {
    // An SIS endpoint that refuses every batch (400: not retried).
    sis = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'text/plain' }).end('course section unknown'));
    }).listen(0, '127.0.0.1');
    await once(sis, 'listening');
    dir = mkdtempSync(join(tmpdir(), 'gradestream-ops-'));
    const env = {
      GRADESTREAM_SINK_URL: `http://127.0.0.1:${(sis.address() as AddressInfo).port}/grades`,
      GRADESTREAM_LOG_FORMAT: 'iso',
    };
    service = await startRunProcess(env, { dir });
    base = service.base;
  });
  afterAll(async () => {
    await service?.stop();
    sis?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports every series an alert reads from the first scrape, at 0, and promtool finds nothing to say', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    for (const outcome of ['applied', 'stale', 'duplicate', 'ignored', 'quarantined']) {
      expect(sample(text, `gradestream_events_total{source="webhook",event="grade_change",outcome="${outcome}"}`)).toBe(0);
    }
    expect(sample(text, 'gradestream_quarantined_total{reason="malformed_json"}')).toBe(0);
    expect(sample(text, 'gradestream_quarantined_total{reason="internal_error"}')).toBe(0);
    for (const trigger of ['scheduled', 'manual', 'catch_up']) {
      expect(sample(text, `gradestream_sync_runs_total{schedule="nightly",trigger="${trigger}",status="failed"}`)).toBe(0);
    }
    expect(sample(text, 'gradestream_sync_last_success_timestamp_seconds{schedule="nightly"}')).toBe(0);
    expect(sample(text, 'gradestream_sync_ever_succeeded{schedule="nightly"}')).toBe(0);
    expect(sample(text, 'gradestream_sync_last_failure_timestamp_seconds{schedule="nightly"}')).toBe(0);
    expect(sample(text, 'gradestream_schedule_suspended{schedule="nightly"}')).toBe(0);
    expect(sample(text, 'gradestream_sink_errors_total{sink="https"}')).toBe(0);
    expect(sample(text, 'gradestream_ready')).toBe(1);
    expect(text).toMatch(/^gradestream_build_info\{version="\d+\.\d+\.\d+[^"]*",node="v\d+\.\d+\.\d+"\} 1$/m);

    const promtool = process.env['GRADESTREAM_PROMTOOL'];
    if (!promtool) throw new Error('GRADESTREAM_PROMTOOL is not set: run the suite with `npm test` (scripts/tools.sh installs Prometheus)');
    const file = join(dir, 'metrics.txt');
    writeFileSync(file, text);
    const result = await promisify(execFile)('sh', ['-c', `"${promtool}" check metrics < "${file}"`]).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
    );
    expect(result).toEqual({ code: 0, out: '' });
  });

  it('counts HTTP requests by route template and status, never by the path a client sent', async () => {
    await fetch(`${base}/api/runs/123456789012345678`, { headers: admin });
    await fetch(`${base}/no/such/path-${'x'.repeat(50)}`);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(sample(text, 'gradestream_http_request_duration_seconds_count{method="GET",route="/api/runs/:id",status="404"}')).toBe(1);
    expect(sample(text, 'gradestream_http_request_duration_seconds_count{method="GET",route="none",status="404"}')).toBe(1);
    expect(text).not.toMatch(/123456789012345678|xxxxxxxx/);
  });

  it('logs a failed run once, at error, with its run id, schedule and target; every line JSON with ISO times', async () => {
    const run = await fetch(`${base}/api/schedules/nightly/run`, { method: 'POST', headers: admin });
    const entry = (await run.json()) as { id: string; status: string; error: string };
    expect(entry).toMatchObject({ status: 'failed', error: expect.stringMatching(/course section unknown/) });
    const signIn = await fetch(`${base}/login`, { method: 'POST', body: 'token=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base } });
    expect(signIn.status).toBe(401);

    const lines = service.logs().split('\n').filter((l) => l !== '');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>); // throws on a line that is not JSON
    for (const r of records) {
      expect(r['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(r['level']);
    }
    const errors = records.filter((r) => r['level'] === 'error');
    expect(errors).toEqual([
      expect.objectContaining({ msg: 'sync run failed', run: entry.id, schedule: 'nightly', trigger: 'manual', target: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/grades$/) }),
    ]);
    expect(records.some((r) => r['msg'] === 'sign-in failed: not a valid token')).toBe(true);
    expect(records.find((r) => r['msg'] === 'ready')).toMatchObject({ port: Number(new URL(base).port) });
  });

  it('after a restart, reports the last failure and "never succeeded" from the history', async () => {
    const failedAt = sample(await (await fetch(`${base}/metrics`)).text(), 'gradestream_sync_last_failure_timestamp_seconds{schedule="nightly"}')!;
    expect(failedAt).toBeGreaterThan(Date.now() / 1000 - 600);
    await service.stop();
    service = await startRunProcess({ GRADESTREAM_SINK_URL: 'file:' + join(dir, 'outbox') }, { dir });
    const text = await (await fetch(`${service.base}/metrics`)).text();
    expect(sample(text, 'gradestream_sync_last_failure_timestamp_seconds{schedule="nightly"}')).toBe(failedAt);
    expect(sample(text, 'gradestream_sync_ever_succeeded{schedule="nightly"}')).toBe(0);
    expect(sample(text, 'gradestream_sync_runs_total{schedule="nightly",trigger="manual",status="failed"}')).toBe(0);
  });
});
