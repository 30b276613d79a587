import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderPrometheusRule, run, tool, type RenderedRule } from '../support/alert-rules.js';
import { docsOf, template } from '../support/helm.js';

const root = new URL('../../', import.meta.url).pathname;
const testFile = join(root, 'test', 'alerts', 'rules.test.yaml');

interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}

/**
 * The chart's shipped alerting rules (helm/gradestream/templates/prometheusrule.yaml, default values)
 * under promtool: `check rules` and the unit tests of rules.test.yaml, which must cover every alert
 * with a case where it fires and one where it does not.
 */
describe('PrometheusRule', () => {
  let rendered: RenderedRule;
  let dir: string;

  beforeAll(async () => {
    rendered = await renderPrometheusRule();
    dir = mkdtempSync(join(tmpdir(), 'gradestream-rules-'));
    // rules.test.yaml names rules.yaml beside it.
    writeFileSync(join(dir, 'rules.yaml'), rendered.ruleFile);
    copyFileSync(testFile, join(dir, 'rules.test.yaml'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes promtool check rules, lint included', async () => {
    const promtool = tool('GRADESTREAM_PROMTOOL', 'scripts/tools.sh');
    const r = await run(promtool, ['check', 'rules', '--lint=all', '--lint-fatal', join(dir, 'rules.yaml')]);
    expect(r.out).toMatch(/SUCCESS: 12 rules found/);
    expect(r.code).toBe(0);
  });

  it('passes its promtool unit tests', async () => {
    const promtool = tool('GRADESTREAM_PROMTOOL', 'scripts/tools.sh');
    const r = await run(promtool, ['test', 'rules', 'rules.test.yaml'], dir);
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });

  it('has, for every alert, a test case where it fires and one where it does not, and no test of an alert it lacks', () => {
    const tests = (parse(readFileSync(testFile, 'utf8')) as { tests: { alert_rule_test?: AlertRuleTest[] }[] }).tests.flatMap(
      (t) => t.alert_rule_test ?? [],
    );
    const alerts = [...new Set(rendered.rules.map((r) => r.alert).filter((a): a is string => a !== undefined))].sort();
    expect(alerts).toEqual([
      'GradestreamConsumerLag',
      'GradestreamHeldRowsGrowing',
      'GradestreamNotReady',
      'GradestreamQuarantineGrowing',
      'GradestreamScheduleStuck',
      'GradestreamScheduleSuspended',
      'GradestreamSinkErrors',
      'GradestreamSyncFailed',
      'GradestreamSyncNeverSucceeded',
      'GradestreamSyncOverdue',
      'GradestreamWebhookUnauthenticated',
    ]);
    const firing = new Set(tests.filter((t) => (t.exp_alerts ?? []).length > 0).map((t) => t.alertname));
    const silent = new Set(tests.filter((t) => (t.exp_alerts ?? []).length === 0).map((t) => t.alertname));
    expect({ firing: [...firing].sort(), silent: [...silent].sort() }).toEqual({ firing: alerts, silent: alerts });
  });

  it('gives every alert a severity, a summary, a description and a runbook_url whose anchor is a README heading', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    const anchors = new Set(
      [...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')),
    );
    for (const rule of rendered.rules) {
      expect(rule.labels?.['severity'], rule.alert).toMatch(/^(critical|warning|info)$/);
      expect(Object.keys(rule.annotations ?? {}).sort(), rule.alert).toEqual(['description', 'runbook_url', 'summary']);
      const url = rule.annotations!['runbook_url']!;
      expect(url).toBe(`https://gradestream.example/README.md#${rule.alert!.toLowerCase()}`);
      expect(anchors, `README heading for ${rule.alert}`).toContain(rule.alert!.toLowerCase());
    }
  });
});

describe('PrometheusRule values', () => {
  it('is not rendered by default', async () => {
    const kinds = docsOf(await template()).map((d: { kind: string }) => d.kind);
    expect(kinds).toContain('Deployment');
    expect(kinds).not.toContain('PrometheusRule');
  });

  it('takes labels (kube-prometheus-stack selects on release), a namespace, alert labels, a runbook base and a selector', async () => {
    const r = await renderPrometheusRule(
      'prometheusRule.labels.release=kps',
      'prometheusRule.namespace=monitoring',
      'prometheusRule.alertLabels.team=sis',
      'prometheusRule.runbookBaseUrl=https://git.example.edu/ops/gradestream/README.md',
      'prometheusRule.selector=job="grades"',
    );
    expect(r.object.metadata).toMatchObject({ name: 't-gradestream', namespace: 'monitoring', labels: { release: 'kps' } });
    const failed = r.rules.find((x) => x.alert === 'GradestreamSyncFailed')!;
    expect(failed.labels).toEqual({ severity: 'warning', team: 'sis' });
    expect(failed.annotations!['runbook_url']).toBe('https://git.example.edu/ops/gradestream/README.md#gradestreamsyncfailed');
    expect(failed.expr).toContain('gradestream_sync_last_failure_timestamp_seconds{job="grades"}');
    expect(failed.expr).not.toContain('t-gradestream');
  });

  it('tunes thresholds and durations, disables alerts and appends additionalRules; the result still passes promtool', async () => {
    const r = await renderPrometheusRule(
      'prometheusRule.alerts.syncOverdue.thresholdSeconds=7200',
      'prometheusRule.alerts.syncOverdue.for=1m',
      'prometheusRule.alerts.scheduleSuspended.for=72h',
      'prometheusRule.alerts.heldRowsGrowing.reasons={unposted}',
      'prometheusRule.alerts.heldRowsGrowing.maxRows=0',
      'prometheusRule.alerts.consumerLag.kafkaThreshold=50000',
      'prometheusRule.alerts.webhookUnauthenticated.enabled=false',
      'prometheusRule.additionalRules[0].alert=SisFeedLate',
      'prometheusRule.additionalRules[0].expr=vector(1)',
      'prometheusRule.additionalRules[0].labels.severity=info',
    );
    const byName = (name: string) => r.rules.filter((x) => x.alert === name);
    expect(byName('GradestreamSyncOverdue')[0]).toMatchObject({ for: '1m', expr: expect.stringContaining('> 7200\n') });
    expect(byName('GradestreamScheduleSuspended')[0]!.for).toBe('72h');
    expect(byName('GradestreamScheduleSuspended')[0]!.annotations!['description']).toContain('more than 72h');
    const held = byName('GradestreamHeldRowsGrowing')[0]!.expr;
    expect(held).toContain('reason=~"unposted"');
    expect(held).not.toMatch(/\bor\b/); // no row limit
    expect(byName('GradestreamConsumerLag')[0]!.expr).toContain('> 50000)');
    expect(byName('GradestreamWebhookUnauthenticated')).toEqual([]);
    expect(r.rules.at(-1)).toEqual({ alert: 'SisFeedLate', expr: 'vector(1)', labels: { severity: 'info' } });

    const promtool = tool('GRADESTREAM_PROMTOOL', 'scripts/tools.sh');
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yaml'), r.ruleFile);
      const check = await run(promtool, ['check', 'rules', '--lint=all', '--lint-fatal', join(dir, 'rules.yaml')]);
      expect(check.out).toMatch(/SUCCESS: 12 rules found/);
      expect(check.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['prometheusRule.alerts.syncOverdue.for=5 minutes'], /prometheusRule[/.]alerts[/.]syncOverdue[/.]for/],
    [['prometheusRule.alerts.heldRowsGrowing.window=1h30'], /prometheusRule[/.]alerts[/.]heldRowsGrowing[/.]window/],
    [['prometheusRule.alerts.scheduleStuck.thresholdSeconds=-1'], /prometheusRule[/.]alerts[/.]scheduleStuck[/.]thresholdSeconds/],
    [['prometheusRule.alerts.consumerLag.kafkaThreshold=lots'], /prometheusRule[/.]alerts[/.]consumerLag[/.]kafkaThreshold/],
    [['prometheusRule.alerts.heldRowsGrowing.reasons={unmapped}'], /prometheusRule[/.]alerts[/.]heldRowsGrowing[/.]reasons/],
    [['prometheusRule.alerts.syncOverdu.for=5m'], /syncOverdu/],
    [['prometheusRule.selector=\\{job="x"\\}'], /prometheusRule[/.]selector/],
    [['prometheusRule.runbookBaseUrl=README.md'], /prometheusRule[/.]runbookBaseUrl/],
  ])('values.schema.json refuses %j before rendering', async (set, message) => {
    expect(await template(...set)).toMatchObject({ ok: false, error: expect.stringMatching(message) });
  });
});
