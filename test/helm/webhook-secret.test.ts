import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART, docsOf, helm, one, template } from '../support/helm.js';

// The generated webhook secret is read back with `lookup` and kept. helm reads the cluster only when it
// has one (install, upgrade, `template --dry-run=server`), so this stands in for the Kubernetes API on
// loopback: the discovery of v1 and GET of the one Secret, which is all lookup asks.

const NAME = 't-gradestream-webhook';
const KEPT = 'the-secret-canvas-is-configured-with';
let existing: object | undefined;
const asked: string[] = [];
let server: Server;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), 'gradestream-lookup-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    asked.push(`${req.method} ${path}`);
    const answer = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/api/v1') {
      return answer(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'v1',
        resources: [{ name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: ['get', 'list'] }],
      });
    }
    if (path === `/api/v1/namespaces/default/secrets/${NAME}` && existing) return answer(200, existing);
    return answer(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeconfig = join(dir, 'kubeconfig');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: standin, cluster: {server: "${url}"}}]
users: [{name: test, user: {token: test}}]
contexts: [{name: standin, context: {cluster: standin, user: test, namespace: default}}]
current-context: standin
`,
  );
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The webhook secret an upgrade-style render (reading the cluster) produces. */
async function renderedAgainstCluster(): Promise<string> {
  const docs = docsOf(await helm(['template', 't', CHART, '--namespace', 'default', '--dry-run=server', '--kubeconfig', kubeconfig]));
  return Buffer.from(one(docs, 'Secret', NAME).data.secret, 'base64').toString();
}

describe('Helm chart: the generated webhook secret', () => {
  it('is kept when the Secret exists (upgrade), generated when it does not (install)', async () => {
    existing = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: NAME, namespace: 'default' },
      type: 'Opaque',
      data: { secret: Buffer.from(KEPT).toString('base64') },
    };
    expect(await renderedAgainstCluster()).toBe(KEPT);
    expect(await renderedAgainstCluster()).toBe(KEPT);
    expect(asked).toContain(`GET /api/v1/namespaces/default/secrets/${NAME}`);

    existing = undefined;
    const generated = await renderedAgainstCluster();
    expect(generated).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(generated).not.toBe(KEPT);
  });

  it('changes on every render without a cluster (helm template, GitOps): webhook.secretName is the way there', async () => {
    const secretOf = async (...set: string[]) => docsOf(await template(...set)).find((d) => d.kind === 'Secret')?.data.secret;
    const [a, b] = [await secretOf(), await secretOf()];
    expect(a).toBeDefined();
    expect(a).not.toBe(b);
    const docs = docsOf(await template('webhook.secretName=gs-webhook'));
    expect(docs.map((d) => d.kind)).not.toContain('Secret');
    expect(one(docs, 'Deployment').spec.template.spec.containers[0].env).toContainEqual({
      name: 'GRADESTREAM_WEBHOOK_SECRET',
      valueFrom: { secretKeyRef: { name: 'gs-webhook', key: 'secret' } },
    });
  });
});
