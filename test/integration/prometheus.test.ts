import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPrometheusRule, tool } from '../support/alert-rules.js';
import { fixtureText } from '../support/events.js';
import { startRunProcess, type RunningService } from '../support/service.js';
import { startServer, type TestServer } from '../sinks/server.js';

/**
 * A real Prometheus (Debian's package) scraping a running `gradestream run` on loopback every second and
 * evaluating the chart's rendered PrometheusRule every second, some `for:` shortened through the
 * chart's values. The schedule's SIS refuses every batch: the "sync failed" and "never succeeded"
 * alerts must go pending, then fire (and the sink errors one fire); those about a healthy service
 * must stay quiet throughout.
 */

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
}
interface PromRule {
  name: string;
  type: string;
  health: string;
  lastError?: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `probe` until it returns a value (not undefined), or fails with what it last saw. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the shipped alerting rules in a real Prometheus', () => {
  let sis: TestServer;
  let service: RunningService;
  let prometheus: ChildProcess | undefined;
  let prometheusExit: Promise<unknown> | undefined;
  let prometheusLog = '';
  let dir: string;
  let api: string;

  const alerts = async (): Promise<PromAlert[]> => {
    const body = (await (await fetch(`${api}/api/v1/alerts`)).json()) as { data: { alerts: PromAlert[] } };
    return body.data.alerts;
  };
  const rules = async (): Promise<PromRule[]> => {
    const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: { rules: PromRule[] }[] } };
    return body.data.groups.flatMap((g) => g.rules);
  };
  // The alerts a running, ready service with a never-run schedule must not raise, whatever else happens.
  const quiet = ['GradestreamSyncOverdue', 'GradestreamScheduleStuck', 'GradestreamScheduleSuspended', 'GradestreamNotReady', 'GradestreamWebhookUnauthenticated'];

  beforeAll(async () => {
    const binary = tool('GRADESTREAM_PROMETHEUS', 'scripts/tools.sh');
    sis = await startServer(() => ({ status: 403, body: 'refused: this SIS takes no grades today' }));
    // 403: refused at once (5xx would be retried with backoff for many seconds first).
    service = await startRunProcess({ GRADESTREAM_SINK_URL: `${sis.url}/grades` });
    const rendered = await renderPrometheusRule(
      'prometheusRule.alerts.syncFailed.for=3s',
      'prometheusRule.alerts.syncNeverSucceeded.for=3s',
      'prometheusRule.alerts.notReady.for=3s',
    );

    dir = mkdtempSync(join(tmpdir(), 'gradestream-prometheus-'));
    writeFileSync(join(dir, 'rules.yaml'), rendered.ruleFile);
    // Job and namespace as the chart's ServiceMonitor would give them: the rules select on both.
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}',
        'rule_files: [rules.yaml]',
        'scrape_configs:',
        '  - job_name: t-gradestream',
        `    static_configs: [{targets: ["${new URL(service.base).host}"], labels: {namespace: default}}]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const child = prometheus;
    prometheusExit = new Promise((resolve) => child.once('exit', resolve));
    child.stderr!.on('data', (chunk: Buffer) => (prometheusLog += chunk.toString()));
    await until('Prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${prometheusLog}`);
      return (await fetch(`${api}/-/ready`)).status === 200 ? true : undefined;
    });
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await prometheusExit;
    }
    await service?.stop();
    await sis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes the service and evaluates every shipped rule without error, the service healthy and quiet', async () => {
    await until('the service to be scraped', async () => {
      const body = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent('up{job="t-gradestream",namespace="default"}')}`)).json()) as {
        data: { result: { value: [number, string] }[] };
      };
      return body.data.result[0]?.value[1] === '1' ? true : undefined;
    });
    // Evaluated at least once since the first scrape.
    const evaluated = await until('every rule to be evaluated', async () => {
      const r = await rules();
      return r.length > 0 && r.every((x) => x.health !== 'unknown') ? r : undefined;
    });
    expect(evaluated.filter((r) => r.type === 'alerting').map((r) => r.name)).toEqual(expect.arrayContaining([...quiet, 'GradestreamSyncFailed', 'GradestreamSyncNeverSucceeded']));
    expect(evaluated.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
    await new Promise((r) => setTimeout(r, 4000)); // past the shortened for:s
    expect((await alerts()).map((a) => a.labels['alertname'])).toEqual([]);
  });

  it('raises GradestreamSyncFailed and GradestreamSyncNeverSucceeded for the schedule, and GradestreamSinkErrors, once a run fails on the refusing SIS', async () => {
    const post = await fetch(`${service.base}/events`, { method: 'POST', body: fixtureText('grade_change'), headers: { 'x-gradestream-secret': 's3cret' } });
    expect(await post.json()).toEqual({ outcome: 'applied' });
    const run = await fetch(`${service.base}/api/schedules/nightly/run`, { method: 'POST', headers: { authorization: 'Bearer adm' } });
    expect(await run.json()).toMatchObject({ schedule: 'nightly', status: 'failed', error: expect.stringMatching(/403/) });
    expect(sis.requests.length).toBeGreaterThan(0);

    const seen = new Map<string, Set<string>>();
    const wanted = ['GradestreamSyncFailed', 'GradestreamSyncNeverSucceeded', 'GradestreamSinkErrors'];
    const firing = await until(
      `${wanted.join(', ')} to fire`,
      async () => {
        const now = await alerts();
        for (const a of now) {
          const name = a.labels['alertname']!;
          seen.set(name, (seen.get(name) ?? new Set()).add(a.state));
        }
        const fired = now.filter((a) => a.state === 'firing' && wanted.includes(a.labels['alertname']!));
        return fired.length === wanted.length ? fired : undefined;
      },
      45_000,
    );
    for (const a of firing) {
      const about = a.labels['alertname'] === 'GradestreamSinkErrors' ? { sink: 'https' } : { schedule: 'nightly' };
      expect(a.labels).toMatchObject({ ...about, job: 't-gradestream', namespace: 'default', severity: 'warning' });
      expect(a.annotations['runbook_url']).toBe(`https://gradestream.example/README.md#${a.labels['alertname']!.toLowerCase()}`);
      expect(a.annotations['summary']).toContain(Object.values(about)[0]);
    }
    // Nothing about a healthy, ready, never-overdue service, pending or firing.
    expect([...seen.keys()].filter((name) => quiet.includes(name))).toEqual([]);
    expect((await rules()).filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  }, 90_000);
});
