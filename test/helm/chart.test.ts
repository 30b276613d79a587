import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { docsOf, one, template } from '../support/helm.js';

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
    expect(r.docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'Pod', 'Service']);
    expect(one(r.docs, 'Pod').metadata.annotations['helm.sh/hook']).toBe('test');
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
    expect(r.docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Pod', 'PodDisruptionBudget', 'Secret', 'Service', 'ServiceAccount']);
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

const POSTGRES = ['replicaCount=3', 'state.existingSecret=gs-db', 'sink.url=s3://sis/feeds'];

/** Whether an Ingress path routes `path` (Kubernetes' rules: Exact is the whole path, Prefix whole elements). */
function routes(rule: { path: string; pathType: string }, path: string): boolean {
  if (rule.pathType === 'Exact') return rule.path === path;
  const prefix = rule.path.split('/').filter(Boolean);
  const elements = path.split('/').filter(Boolean);
  return prefix.every((p, i) => elements[i] === p);
}

/** The paths the service answers (src/service/*.ts), route parameters made concrete. */
function serviceRoutes(): string[] {
  const dir = 'src/service';
  const found = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(`${dir}/${f}`, 'utf8').matchAll(/app\.(?:get|post|put|delete|patch)\(\s*'([^']+)'/g)].map((m) => m[1]!));
  return [...new Set(found)].map((p) => p.replace(/:[a-z]+/g, 'x'));
}

function envOf(docs: any[]): any[] {
  return one(docs, 'Deployment').spec.template.spec.containers[0].env;
}

// The messages differ between helm generations (3.17: `a.b: Must be …`; 3.18+: `/a/b: … want …`): each
// pattern names the field and accepts either wording.
describe('Helm chart: values.schema.json', () => {
  it.each([
    [['replicaCount=two'], /replicaCount.*(want integer|Expected: integer)/],
    [['replicaCount=0'], /replicaCount.*(minimum|greater than or equal to 1)/],
    [['schedules[0].id=nightly', 'schedules[0].hourOfDay=25', 'schedules[0].postedBy=Registrar'], /hourOfDay.*(maximum: got 25, want 23|less than or equal to 23)/],
    [['schedules[0].id=nightly', 'schedules[0].postedBy=Registrar'], /schedules[/.]0.*(missing property 'hourOfDay'|hourOfDay is required)/],
    [['schedules[0].hourOfDay=2', 'schedules[0].postedBy=Registrar'], /schedules[/.]0.*(missing property 'id'|id is required)/],
    [['schedules[0].id=n', 'schedules[0].hourOfDay=2', 'schedules[0].postedBy=R', 'schedules[0].hour=3'], /additional propert(ies 'hour'|y hour is not allowed)/i],
    [['webhook.auth=basic'], /webhook[/.]auth/],
    [['sources.kafka.sasl.mechanism=gssapi'], /sasl[/.]mechanism/],
    [['logLevel=verbose'], /logLevel/],
    [['persistence.accessMode=ReadOnlyMany'], /persistence[/.]accessMode/],
    [['service.type=ExternalName'], /service[/.]type/],
    [['service.port=70000'], /service[/.]port.*(maximum|less than or equal)/],
    [['state.url=mysql://db/x'], /state[/.]url/],
    [['replicacount=2'], /additional propert(ies 'replicacount'|y replicacount is not allowed)/i],
    [['ingress.paths[0].path=events', 'ingress.paths[0].pathType=Exact'], /ingress[/.]paths[/.]0[/.]path/],
  ])('refuses %j before rendering', async (set, message) => {
    expect(await template(...set)).toMatchObject({ ok: false, error: expect.stringMatching(message) });
  });

  it('is permissive where values are free-form (resources, affinity, annotations, pod security)', async () => {
    const docs = docsOf(
      await template(
        'resources.limits.nvidia\\.com/gpu=1',
        'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone',
        'podAnnotations.example\\.com/anything=yes',
        'podSecurityContext.supplementalGroups[0]=2000',
        'prometheusRule.enabled=false',
      ),
    );
    const pod = one(docs, 'Deployment').spec.template.spec;
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    expect(pod.securityContext.supplementalGroups).toEqual([2000]);
  });
});

describe('Helm chart: refusals', () => {
  it('refuses SQLite (or a file: outbox) without persistence unless allowed explicitly, naming the value', async () => {
    expect(await template('persistence.enabled=false')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/SQLite state store.*emptyDir.*persistence\.allowEphemeral=true/),
    });
    expect(await template('persistence.enabled=false', 'state.url=postgres://db/gs')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/file: outbox.*persistence\.allowEphemeral=true/),
    });
    const ephemeral = one(docsOf(await template('persistence.enabled=false', 'persistence.allowEphemeral=true')), 'Deployment');
    expect(ephemeral.spec.template.spec.volumes).toContainEqual({ name: 'data', emptyDir: {} });
    // Nothing on the volume: nothing to lose, nothing refused.
    const docs = docsOf(await template('persistence.enabled=false', 'state.url=postgres://db/gs', 'sink.url=s3://sis/feeds'));
    expect(docs.map((d) => d.kind)).not.toContain('PersistentVolumeClaim');
  });

  it('refuses a reconciliation schedule without the Canvas URL and token Secret', async () => {
    const schedule = ['schedules[0].id=check', 'schedules[0].hourOfDay=1', 'schedules[0].postedBy=R', 'schedules[0].reconcile.account=1'];
    expect(await template(...schedule)).toMatchObject({ ok: false, error: expect.stringMatching(/schedule check reconciles.*canvas\.url and canvas\.tokenSecret/) });
    expect((await template(...schedule, 'canvas.url=https://canvas.example.edu', 'canvas.tokenSecret=gs-canvas')).ok).toBe(true);
  });
});

describe('Helm chart: ingress', () => {
  it('routes what Canvas and people use, never /metrics or the probes, with the annotations given', async () => {
    const ingress = one(docsOf(await template('ingress.enabled=true', 'ingress.host=grades.example.edu', 'ingress.annotations.cert-manager\\.io/cluster-issuer=le')), 'Ingress');
    expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'le' });
    const rule = ingress.spec.rules[0];
    expect(rule.host).toBe('grades.example.edu');
    const paths: { path: string; pathType: string }[] = rule.http.paths;
    const routed = (p: string) => paths.some((r) => routes(r, p));
    for (const p of ['/metrics', '/metrics/', '/healthz', '/readyz']) expect(routed(p), p).toBe(false);
    // Every route of the service but those is reachable: a new route needs no chart change to be found missing.
    const service = serviceRoutes();
    expect(service).toEqual(expect.arrayContaining(['/events', '/', '/login', '/logout', '/api/schedules', '/metrics']));
    expect(service.filter((p) => !['/metrics', '/healthz', '/readyz'].includes(p) && !routed(p))).toEqual([]);
    expect(paths.filter((r) => r.path === '/').map((r) => r.pathType)).toEqual(['Exact']);
  });

  it('refuses a catch-all / and the cluster-only paths', async () => {
    expect(await template('ingress.enabled=true', 'ingress.paths[0].path=/', 'ingress.paths[0].pathType=Prefix')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/path \/ that is not Exact would route everything, \/metrics included/),
    });
    expect(await template('ingress.enabled=true', 'ingress.paths[0].path=/metrics', 'ingress.paths[0].pathType=Exact')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/\/metrics is for the cluster/),
    });
  });
});

describe('Helm chart: pods', () => {
  it('passes the restricted Pod Security Standard, the test pod too', async () => {
    const docs = docsOf(await template());
    for (const spec of [one(docs, 'Deployment').spec.template.spec, one(docs, 'Pod').spec]) {
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(spec.securityContext.runAsUser).not.toBe(0);
      expect(spec.hostNetwork ?? false).toBe(false);
      for (const c of spec.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        expect(c.securityContext.privileged ?? false).toBe(false);
        expect(c.securityContext.capabilities.add ?? []).toEqual([]);
      }
    }
  });

  it('gives a run time to finish, a memory limit above the replay peak, and the pod settings given', async () => {
    const docs = docsOf(
      await template(
        ...POSTGRES,
        'priorityClassName=critical',
        'podLabels.team=registrar',
        'topologySpreadConstraints[0].maxSkew=1',
        'topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone',
        'topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway',
        'env[0].name=A,env[0].value=one',
        'extraEnv[0].name=NODE_EXTRA_CA_CERTS,extraEnv[0].value=/etc/gradestream/ca/ca.crt',
        'extraVolumes[0].name=ca,extraVolumes[0].configMap.name=corp-ca',
        'extraVolumeMounts[0].name=ca,extraVolumeMounts[0].mountPath=/etc/gradestream/ca,extraVolumeMounts[0].readOnly=true',
      ),
    );
    const deployment = one(docs, 'Deployment');
    const pod = deployment.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(300);
    expect(pod.priorityClassName).toBe('critical');
    expect(deployment.spec.template.metadata.labels).toMatchObject({ team: 'registrar', 'app.kubernetes.io/instance': 't' });
    // An entry without a labelSelector spreads this release's pods.
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: deployment.spec.selector.matchLabels },
      },
    ]);
    const container = pod.containers[0];
    expect(container.env).toEqual(expect.arrayContaining([{ name: 'A', value: 'one' }, { name: 'NODE_EXTRA_CA_CERTS', value: '/etc/gradestream/ca/ca.crt' }]));
    expect(pod.volumes).toContainEqual({ name: 'ca', configMap: { name: 'corp-ca' } });
    expect(container.volumeMounts).toContainEqual({ name: 'ca', mountPath: '/etc/gradestream/ca', readOnly: true });
    expect(container.resources.limits.memory).toBe('1Gi');
  });

  it('mounts an existing claim instead of making one', async () => {
    const docs = docsOf(await template('persistence.existingClaim=gs-restored'));
    expect(docs.map((d) => d.kind)).not.toContain('PersistentVolumeClaim');
    expect(one(docs, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'gs-restored' } });
    const own = docsOf(await template());
    expect(one(own, 'Deployment').spec.template.spec.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: one(own, 'PersistentVolumeClaim').metadata.name } });
  });

  it('maps the settings the service reads, secrets only from Secrets', async () => {
    const env = envOf(
      docsOf(
        await template(
          'session.existingSecret=gs-session',
          'publicUrl=https://grades.example.edu',
          'trustedProxies[0]=10.0.0.0/8,trustedProxies[1]=192.168.1.1',
          'maxFutureSeconds=1000000',
          'canvas.url=https://canvas.example.edu',
          'canvas.shard=7',
          'canvas.tokenSecret=gs-canvas',
        ),
      ),
    );
    expect(env).toEqual(
      expect.arrayContaining([
        { name: 'GRADESTREAM_SESSION_SECRET', valueFrom: { secretKeyRef: { name: 'gs-session', key: 'secret' } } },
        { name: 'GRADESTREAM_PUBLIC_URL', value: 'https://grades.example.edu' },
        { name: 'GRADESTREAM_TRUSTED_PROXIES', value: '10.0.0.0/8,192.168.1.1' },
        { name: 'GRADESTREAM_MAX_FUTURE_SECONDS', value: '1000000' },
        { name: 'GRADESTREAM_CANVAS_URL', value: 'https://canvas.example.edu' },
        { name: 'GRADESTREAM_CANVAS_SHARD', value: '7' },
        { name: 'GRADESTREAM_CANVAS_TOKEN', valueFrom: { secretKeyRef: { name: 'gs-canvas', key: 'token' } } },
      ]),
    );
    // Unset, the service's own defaults apply.
    const names = envOf(docsOf(await template())).map((e: { name: string }) => e.name);
    expect(names.filter((n: string) => /SESSION|PUBLIC_URL|TRUSTED|MAX_FUTURE|CANVAS/.test(n))).toEqual([]);
  });
});

describe('Helm chart: availability, network, monitoring', () => {
  it('keeps a PodDisruptionBudget only with several replicas', async () => {
    expect(docsOf(await template()).map((d) => d.kind)).not.toContain('PodDisruptionBudget');
    const docs = docsOf(await template(...POSTGRES));
    const pdb = one(docs, 'PodDisruptionBudget');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: one(docs, 'Deployment').spec.selector.matchLabels } });
    expect(one(docsOf(await template(...POSTGRES, 'podDisruptionBudget.minAvailable=2', 'podDisruptionBudget.maxUnavailable=null')), 'PodDisruptionBudget').spec).toMatchObject({
      minAvailable: 2,
    });
    expect(await template(...POSTGRES, 'podDisruptionBudget.minAvailable=2')).toMatchObject({ ok: false, error: expect.stringMatching(/minAvailable or maxUnavailable, not both/) });
    expect(docsOf(await template(...POSTGRES, 'podDisruptionBudget.enabled=false')).map((d) => d.kind)).not.toContain('PodDisruptionBudget');
  });

  it('restricts traffic when asked: in from the ingress controller, Prometheus and clients; out to DNS and the CIDRs given', async () => {
    expect(docsOf(await template()).map((d) => d.kind)).not.toContain('NetworkPolicy');
    const docs = docsOf(
      await template(
        'networkPolicy.enabled=true',
        'networkPolicy.egress.database.cidrs[0]=10.20.0.0/24',
        'networkPolicy.egress.kafka.cidrs[0]=10.40.0.0/24',
        'networkPolicy.egress.kafka.ports[0]=9093',
        'networkPolicy.egress.extraEgress[0].ports[0].port=443',
      ),
    );
    const policy = one(docs, 'NetworkPolicy');
    const deployment = one(docs, 'Deployment');
    expect(policy.spec.podSelector).toEqual(deployment.spec.selector);
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toHaveLength(1);
    expect(policy.spec.ingress[0].ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    const from = policy.spec.ingress[0].from;
    expect(from).toEqual(
      expect.arrayContaining([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } } },
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } },
      ]),
    );
    // The test pod is a client the policy lets in, and neither the Service nor the ReplicaSet selects it.
    const testPod = one(docs, 'Pod');
    const clients = from.filter((f: any) => f.podSelector && !f.namespaceSelector).map((f: any) => f.podSelector.matchLabels);
    expect(clients.some((labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => testPod.metadata.labels[k] === v))).toBe(true);
    const selects = (labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => testPod.metadata.labels[k] === v);
    expect(selects(one(docs, 'Service').spec.selector)).toBe(false);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(false);
    const egress = policy.spec.egress;
    expect(egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }]);
    expect(egress).toContainEqual({ to: [{ ipBlock: { cidr: '10.20.0.0/24' } }], ports: [{ port: 5432, protocol: 'TCP' }] });
    expect(egress).toContainEqual({ to: [{ ipBlock: { cidr: '10.40.0.0/24' } }], ports: [{ port: 9093, protocol: 'TCP' }] });
    expect(egress).toContainEqual({ ports: [{ port: 443 }] });
    // No CIDRs given for the SIS or Canvas: no rule for them.
    expect(egress).toHaveLength(4);
    const ingressOnly = one(docsOf(await template('networkPolicy.enabled=true', 'networkPolicy.egress.enabled=false')), 'NetworkPolicy');
    expect(ingressOnly.spec.policyTypes).toEqual(['Ingress']);
    expect(ingressOnly.spec.egress).toBeUndefined();
  });

  it('labels the ServiceMonitor for kube-prometheus-stack, with its interval and timeout', async () => {
    const monitor = one(
      docsOf(await template('serviceMonitor.enabled=true', 'serviceMonitor.labels.release=kube-prometheus-stack', 'serviceMonitor.interval=15s', 'serviceMonitor.scrapeTimeout=5s')),
      'ServiceMonitor',
    );
    expect(monitor.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack', 'app.kubernetes.io/instance': 't' });
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '15s', scrapeTimeout: '5s' }]);
    expect(await template('serviceMonitor.enabled=true', 'serviceMonitor.interval=soon')).toMatchObject({ ok: false, error: expect.stringMatching(/serviceMonitor[/.]interval/) });
  });
});

describe('Helm chart: helm test', () => {
  it('GETs /readyz through the Service with the gradestream image', async () => {
    const docs = docsOf(await template('image.repository=registry.example.edu/gradestream', 'image.tag=1.2.3'));
    const pod = one(docs, 'Pod');
    expect(pod.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'test' });
    expect(pod.spec.restartPolicy).toBe('Never');
    const container = pod.spec.containers[0];
    expect(container.image).toBe(one(docs, 'Deployment').spec.template.spec.containers[0].image);
    expect(container.image).toBe('registry.example.edu/gradestream:1.2.3');
    const service = one(docs, 'Service');
    expect(container.env).toEqual([{ name: 'URL', value: `http://${service.metadata.name}:${service.spec.ports[0].port}/readyz` }]);
    expect(docsOf(await template('tests.enabled=false')).map((d) => d.kind)).not.toContain('Pod');
  });

  it("its command passes on 200 and fails on 503 or no answer (run here with this machine's node)", async () => {
    const [command, ...args] = one(docsOf(await template()), 'Pod').spec.containers[0].command as string[];
    expect(command).toBe('node');
    let status = 200;
    const server = createServer((req, res) => res.writeHead(req.url === '/readyz' ? status : 404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    // Asynchronously, so that this process's server answers meanwhile.
    const run = (u: string) =>
      new Promise<number | null>((resolve) => spawn(process.execPath, args, { env: { URL: u }, stdio: 'ignore' }).on('exit', resolve));
    try {
      expect(await run(url)).toBe(0);
      status = 503;
      expect(await run(url)).toBe(1);
    } finally {
      server.close();
    }
    expect(await run('http://127.0.0.1:1/readyz')).toBe(1);
  });
});
