import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentNames } from '../../src/config.js';
import { CHART, docsOf, helm, tool } from '../support/helm.js';

// helm lint --strict and kubeconform -strict on every ci/*-values.yaml, as community charts' CI does.
// kubeconform and its schemas (made offline, scripts/kubeconform.sh) come through the environment.

const CI = `${CHART}/ci`;
const valuesFiles = readdirSync(CI).filter((f) => f.endsWith('-values.yaml')).sort();
const work = mkdtempSync(join(tmpdir(), 'gradestream-kubeconform-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** kubeconform -strict -summary on `manifests`: its exit status and what it printed. */
async function kubeconform(name: string, manifests: string): Promise<{ status: number; output: string }> {
  const schemas = tool('GRADESTREAM_KUBE_SCHEMAS', 'scripts/kubeconform.sh --schemas');
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, manifests);
  const args = [
    '-strict',
    '-summary',
    // Only the offline schemas: a kind without one is an error, never a download or a skip.
    '-schema-location',
    `${schemas}/kubernetes/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
    '-schema-location',
    `${schemas}/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`,
    file,
  ];
  try {
    const { stdout, stderr } = await promisify(execFile)(tool('GRADESTREAM_KUBECONFORM', 'scripts/kubeconform.sh'), args);
    return { status: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${String(err)}` };
  }
}

describe('Helm chart: ci/*-values.yaml', () => {
  it('has the configurations CI checks', () => {
    expect(valuesFiles).toEqual(
      expect.arrayContaining(['sqlite-default-values.yaml', 'postgres-replicas-values.yaml', 'kafka-sasl-values.yaml', 'jwt-webhook-values.yaml']),
    );
  });

  it.each(valuesFiles)('%s passes helm lint --strict and kubeconform -strict', async (file) => {
    const lint = await helm(['lint', '--strict', CHART, '-f', `${CI}/${file}`]);
    if (!lint.ok) throw new Error(lint.error);
    expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const rendered = await helm(['template', 't', CHART, '-f', `${CI}/${file}`]);
    const docs = docsOf(rendered);
    const result = await kubeconform(file, rendered.ok ? rendered.stdout : '');
    expect(result.output).toMatch(new RegExp(`Summary: ${docs.length} resources found in 1 file - Valid: ${docs.length}, Invalid: 0, Errors: 0, Skipped: 0`));
    expect(result.status, result.output).toBe(0);
  });

  it('the production-like values turn on every optional kind', async () => {
    const docs = docsOf(await helm(['template', 't', CHART, '-f', `${CI}/postgres-replicas-values.yaml`]));
    expect(new Set(docs.map((d) => d.kind))).toEqual(
      new Set(['ConfigMap', 'Deployment', 'Service', 'ServiceAccount', 'Pod', 'PodDisruptionBudget', 'NetworkPolicy', 'Ingress', 'ServiceMonitor', 'PrometheusRule']),
    );
  });

  it('kubeconform refuses what the cluster would: the schemas are strict and really used', async () => {
    const rendered = await helm(['template', 't', CHART, '-f', `${CI}/postgres-replicas-values.yaml`]);
    if (!rendered.ok) throw new Error(rendered.error);
    const bogusPodField = rendered.stdout.replace(/\n {6}containers:\n/, '\n      restartPolicyy: Always\n      containers:\n');
    const bogusMonitorField = rendered.stdout.replace(/\n {6}scrapeTimeout: 10s\n/, '\n      scrapeTimeout: 10s\n      scrapeTimeoutt: 10s\n');
    const wrongType = rendered.stdout.replace(/\n {2}replicas: 3\n/, '\n  replicas: "3"\n');
    for (const [name, text, message] of [
      ['pod-field', bogusPodField, /additional properties 'restartPolicyy' not allowed/],
      ['monitor-field', bogusMonitorField, /additional properties 'scrapeTimeoutt' not allowed/],
      ['replicas-type', wrongType, /got string, want (null or )?integer/],
    ] as const) {
      expect(text).not.toBe(rendered.stdout);
      const result = await kubeconform(name, text);
      expect(result.status, name).not.toBe(0);
      expect(result.output).toMatch(message);
      expect(result.output).toMatch(/Invalid: 1, Errors: 0/);
    }
  });

  it('together they map every setting of src/config.ts to the container', async () => {
    const mapped = new Set<string>();
    for (const file of valuesFiles) {
      const docs = docsOf(await helm(['template', 't', CHART, '-f', `${CI}/${file}`]));
      for (const e of docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0].env) mapped.add(e.name);
    }
    const missing = Object.values(environmentNames).filter((name) => !mapped.has(name));
    // A new setting in src/config.ts: map it in helm/gradestream (values.yaml, values.schema.json,
    // templates/deployment.yaml) and give it a value in one of ci/*-values.yaml.
    expect(missing).toEqual([]);
  });
});
