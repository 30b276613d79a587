import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const helm = process.env['GRADESTREAM_HELM'];

async function template(...set: string[]): Promise<{ ok: true; docs: any[] } | { ok: false; error: string }> {
  if (!helm) throw new Error('GRADESTREAM_HELM is not set: run the suite with `npm test` (scripts/helm.sh provides helm)');
  const args = ['template', 't', 'helm/gradestream', ...set.flatMap((s) => ['--set', s])];
  try {
    const { stdout } = await promisify(execFile)(helm, args);
    return { ok: true, docs: parseAllDocuments(stdout).map((d) => d.toJS()).filter(Boolean) };
  } catch (err) {
    return { ok: false, error: String((err as { stderr?: string }).stderr ?? err) };
  }
}

const JWT = ['webhook.auth=jwt', 'webhook.jwksUrl=https://canvas.example.edu/jwks', 'webhook.issuer=https://canvas.example.edu'];

describe('Helm chart', () => {
  it('renders a deployment running `gradestream run` with probes and the configuration as environment', async () => {
    const r = await template(...JWT, 'adminTokensSecret=gs-tokens');
    if (!r.ok) throw new Error(r.error);
    const deployment = r.docs.find((d) => d.kind === 'Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.args).toEqual(['run']);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    const env = Object.fromEntries(container.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({
      GRADESTREAM_WEBHOOK_AUTH: 'jwt',
      GRADESTREAM_WEBHOOK_JWKS_URL: 'https://canvas.example.edu/jwks',
      GRADESTREAM_STATE_URL: 'sqlite:/var/lib/gradestream/gradestream.db',
      GRADESTREAM_ADMIN_TOKENS_FILE: '/etc/gradestream/tokens/tokens.yaml',
    });
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(r.docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'Service']);
  });

  it('refuses webhook auth none unless told explicitly', async () => {
    expect(await template('webhook.auth=none')).toMatchObject({ ok: false, error: expect.stringMatching(/allowUnauthenticated/) });
    expect((await template('webhook.auth=none', 'webhook.allowUnauthenticated=true')).ok).toBe(true);
  });

  it('refuses jwt without its JWKS and issuer, and several replicas on SQLite or sharing a ReadWriteOnce outbox', async () => {
    expect(await template('webhook.auth=jwt')).toMatchObject({ ok: false, error: expect.stringMatching(/jwksUrl and webhook.issuer/) });
    expect(await template('replicaCount=2')).toMatchObject({ ok: false, error: expect.stringMatching(/needs PostgreSQL/) });
    expect(await template('replicaCount=2', 'state.url=postgres://db/gradestream')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/file: sink needs a volume every replica can write/),
    });
    expect((await template('replicaCount=2', 'state.url=postgres://db/gradestream', 'persistence.accessMode=ReadWriteMany')).ok).toBe(true);
  });

  it('installs with defaults: the webhook secret is generated into a Secret the deployment reads', async () => {
    const r = await template();
    if (!r.ok) throw new Error(r.error);
    const secret = r.docs.find((d) => d.kind === 'Secret');
    expect(secret.metadata.name).toBe('t-gradestream-webhook');
    expect(Buffer.from(secret.data.secret, 'base64').toString()).toMatch(/^[A-Za-z0-9]{40}$/);
    const env = r.docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'GRADESTREAM_WEBHOOK_AUTH', value: 'secret' });
    expect(env).toContainEqual({ name: 'GRADESTREAM_WEBHOOK_SECRET', valueFrom: { secretKeyRef: { name: 't-gradestream-webhook', key: 'secret' } } });
  });

  it('several replicas on PostgreSQL with an S3 sink: no shared volume, rolling updates, secrets from Secrets', async () => {
    const r = await template(
      'replicaCount=3',
      'state.existingSecret=gs-db',
      'sink.existingSecret=gs-sis',
      'sources.kafka.brokers=k:9092',
      'sources.kafka.topics=grades',
      'sources.kafka.sasl.mechanism=scram-sha-512',
      'sources.kafka.sasl.existingSecret=gs-kafka',
      'serviceAccount.create=true',
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceAccount']);
    const spec = r.docs.find((d) => d.kind === 'Deployment').spec;
    expect(spec.strategy).toBeUndefined();
    expect(spec.template.spec.serviceAccountName).toBe('t-gradestream');
    expect(spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('data');
    const env = spec.template.spec.containers[0].env;
    const from = (name: string) => env.find((e: { name: string }) => e.name === name)?.valueFrom?.secretKeyRef;
    expect([from('GRADESTREAM_STATE_URL'), from('GRADESTREAM_SINK_URL'), from('GRADESTREAM_KAFKA_SASL_PASSWORD')]).toEqual([
      { name: 'gs-db', key: 'url' },
      { name: 'gs-sis', key: 'url' },
      { name: 'gs-kafka', key: 'password' },
    ]);
  });

  it('puts the schedules into a ConfigMap the service reads', async () => {
    const r = await template(...JWT, 'schedules[0].id=nightly', 'schedules[0].hourOfDay=2', 'schedules[0].postedBy=Registrar');
    if (!r.ok) throw new Error(r.error);
    const cm = r.docs.find((d) => d.kind === 'ConfigMap');
    expect(cm.data['schedules.yaml']).toMatch(/id: nightly/);
  });

  it('ships a Grafana dashboard whose queries use only metrics the service exports', async () => {
    const r = await template(...JWT, 'grafanaDashboard.enabled=true');
    if (!r.ok) throw new Error(r.error);
    const cm = r.docs.find((d) => d.kind === 'ConfigMap' && d.metadata.labels?.grafana_dashboard === '1');
    const dashboard = JSON.parse(cm.data['gradestream.json']);
    const names = new Set<string>(
      dashboard.panels.flatMap((p: any) => p.targets.flatMap((t: any) => [...t.expr.matchAll(/gradestream_[a-z_]+/g)].map((m) => m[0]))),
    );
    const exported = /^(gradestream_(events_total|quarantined_total|event_lag_seconds_bucket|state_records|sync_runs_total|sync_rows_total|sync_held_records|sync_last_success_timestamp_seconds|schedule_suspended|sync_duration_seconds_bucket|sink_errors_total|kafka_consumer_lag|sqs_approximate_messages))$/;
    expect([...names].filter((n) => !exported.test(n))).toEqual([]);
    expect(names.size).toBeGreaterThan(10);
  });
});
