import { CompactSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { eventsRoutes } from '../../src/service/events.js';
import { methodNotAllowed } from '../../src/service/server.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { WebhookSource } from '../../src/sources/webhook.js';
import { webhookAuthenticator, type WebhookAuthSettings } from '../../src/sources/webhook-auth.js';
import type { StateStore } from '../../src/state/store.js';
import { fixture, fixtureText, variant } from '../support/events.js';
import { jwksServer, signEvent, signingKey } from '../support/jwks.js';
import { serveApp } from '../support/http.js';
import { openTestStore, sqlite, type TestStore } from '../support/stores.js';

const log = createLogger('silent');
const ISSUER = 'https://canvas.example.edu';

async function serve(store: StateStore, settings: WebhookAuthSettings, bodyLimit?: number) {
  const source = new WebhookSource({ store, auth: webhookAuthenticator(settings, { cooldownMs: 0 }), log, bodyLimit });
  const served = await serveApp(eventsRoutes(source, log), async (app) => methodNotAllowed(app, { '/events': ['POST'] }, log));
  return {
    url: `${served.base}/events`,
    close: async () => {
      await served.close();
      await source.close();
    },
  };
}

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('POST /events with a shared secret, into a real SQLite store', () => {
  let t: TestStore;
  let hook: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    t = await openTestStore(sqlite);
    hook = await serve(t.store, { mode: 'secret', secret: 's3cret' }, 64 * 1024);
  });
  afterAll(async () => {
    await hook.close();
    await t.cleanup();
  });
  const secret = { 'x-gradestream-secret': 's3cret' };

  it('folds an event and answers only after commit; a repeat is a duplicate', async () => {
    const r = await post(hook.url, fixtureText('grade_change'), secret);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ outcome: 'applied' });
    const state = await t.store.inspect('21070000000000048');
    expect(state.assignment_scores).toHaveLength(1);
    expect(await (await post(`${hook.url}?secret=s3cret`, fixtureText('grade_change'))).json()).toEqual({ outcome: 'duplicate' });
  });

  it('quarantines an invalid event with a 200, and ignores other event types', async () => {
    const bad = JSON.stringify(variant('grade_change', { body: { score: 'lots' } }));
    expect(await (await post(hook.url, bad, secret)).json()).toEqual({ outcome: 'quarantined', reason: 'invalid_field' });
    const q = await t.store.listQuarantine({ limit: 10 });
    expect(q.at(-1)).toMatchObject({ source: 'webhook', reason: 'invalid_field', raw: bad });
    expect(q.at(-1)!.position).toMatch(/^webhook:/);
    const other = JSON.stringify({ metadata: { event_name: 'submission_created' }, body: {} });
    expect(await (await post(hook.url, other, secret)).json()).toEqual({ outcome: 'ignored' });
  });

  it('refuses a wrong secret with 401 and folds nothing', async () => {
    const before = await t.store.dump();
    const e = variant('grade_change', { body: { assignment_id: '21070000000000999' } });
    const r = await post(hook.url, JSON.stringify(e), { 'x-gradestream-secret': 'guess' });
    expect(r.status).toBe(401);
    expect(await t.store.dump()).toBe(before);
  });

  it('refuses a body over the limit with 413', async () => {
    const r = await post(hook.url, JSON.stringify({ pad: 'x'.repeat(70 * 1024) }), secret);
    expect(r.status).toBe(413);
  });

  it('answers every one of many concurrent deliveries, sharing transactions', async () => {
    const events = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify(variant('grade_change', { body: { assignment_id: String(21070000000100000n + BigInt(i)) } })),
    );
    const answers = await Promise.all(
      events.map((e) => post(hook.url, e, secret).then((r) => r.json() as Promise<{ outcome: string }>)),
    );
    expect(answers.every((a) => a.outcome === 'applied')).toBe(true);
    expect((await t.store.counts()).assignment_score).toBeGreaterThanOrEqual(61);
  });

  it('answers 404 and 405 for other paths and methods', async () => {
    expect((await fetch(hook.url.replace('/events', '/nope'))).status).toBe(404);
    expect((await fetch(hook.url)).status).toBe(405);
  });
});

describe('POST /events with signed payloads', () => {
  it('folds a valid JWS, refuses a tampered one with 401 and folds nothing', async () => {
    const t = await openTestStore(sqlite);
    const key = await signingKey('k1');
    const jwks = await jwksServer([key]);
    const hook = await serve(t.store, { mode: 'jwt', jwksUrl: jwks.url, issuer: ISSUER });
    try {
      const token = await signEvent(key, fixture('course_grade_change'), { issuer: ISSUER });
      const ok = await post(hook.url, token, { 'content-type': 'application/jwt' });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ outcome: 'applied' });
      const before = await t.store.dump();
      const [h, p, s] = token.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      claims.body.final_score = 99;
      const forged = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
      expect((await post(hook.url, forged)).status).toBe(401);
      // plain JSON is not accepted when signatures are required
      expect((await post(hook.url, fixtureText('grade_change'))).status).toBe(401);
      expect(await t.store.dump()).toBe(before);
    } finally {
      await hook.close();
      await jwks.close();
      await t.cleanup();
    }
  });
});

describe('POST /events: whatever an authentic delivery holds, a final answer', () => {
  let t: TestStore;
  let key: Awaited<ReturnType<typeof signingKey>>;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  let jwt: Awaited<ReturnType<typeof serve>>;
  let secret: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    t = await openTestStore(sqlite);
    key = await signingKey('k1');
    jwks = await jwksServer([key]);
    jwt = await serve(t.store, { mode: 'jwt', jwksUrl: jwks.url, issuer: ISSUER });
    secret = await serve(t.store, { mode: 'secret', secret: 's3cret' });
  });
  afterAll(async () => {
    await jwt.close();
    await secret.close();
    await jwks.close();
    await t.cleanup();
  });
  /** A JWS over exactly these payload bytes (SignJWT would stringify claims, which these cannot be). */
  const signBytes = (payload: Uint8Array) => new CompactSign(payload).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
  const lastQuarantined = async () => (await t.store.listQuarantine({ limit: 10_000 })).at(-1)!;

  it('quarantines claims nested deeper than a stringify can go (was a RangeError answered 503, so retried forever)', async () => {
    const depth = 50_000;
    const claims = `{"iss":"${ISSUER}","metadata":{"event_name":"grade_change"},"body":{"score":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const r = await post(jwt.url, await signBytes(Buffer.from(claims)), { 'content-type': 'application/jwt' });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ outcome: 'quarantined', reason: 'invalid_field' });
    const q = await lastQuarantined();
    expect(q.source).toBe('webhook');
    expect(q.raw).toBe(claims); // the signed payload, kept as it came
  });

  it('refuses a signed payload that is not UTF-8 for good (401: jose reads claims strictly), never a retry', async () => {
    const payload = Buffer.concat([Buffer.from(`{"iss":"${ISSUER}","metadata":{"event_name":"grade_change"},"body":{"grade":"`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]);
    const before = await t.store.dump();
    const r = await post(jwt.url, await signBytes(payload));
    expect(r.status).toBe(401);
    expect(await t.store.dump()).toBe(before);
  });

  it('hands the body to intake as bytes: one that is not UTF-8 is quarantined with its bytes exactly', async () => {
    const body = Buffer.concat([Buffer.from(fixtureText('grade_change').slice(0, 40)), Buffer.from([0xe0, 0xa4]), Buffer.from('"}')]);
    const r = await fetch(secret.url, { method: 'POST', body, headers: { 'x-gradestream-secret': 's3cret' } });
    expect(await r.json()).toEqual({ outcome: 'quarantined', reason: 'invalid_utf8' });
    const q = await lastQuarantined();
    expect(q.reason).toBe('invalid_utf8');
    expect(q.raw_base64).toBe(body.toString('base64'));
  });

  it('quarantines a body nested deeper than any recursion, and empty and prototype-keyed bodies', async () => {
    for (const body of ['['.repeat(100_000) + ']'.repeat(100_000), '', '{"__proto__":{"metadata":{}},"constructor":{"prototype":{}}}', '\uFEFF{}', '\u0000']) {
      const r = await post(secret.url, body, { 'x-gradestream-secret': 's3cret' });
      expect(r.status, body.slice(0, 20)).toBe(200);
      expect(await r.json()).toEqual({ outcome: 'quarantined', reason: expect.stringMatching(/^(malformed_json|not_an_event)$/) });
    }
  });

  it('refuses a wrong secret before reading the body: the 401 comes while the body is still unsent, and the connection closes', async () => {
    const { slowSender } = await import('../support/raw-http.js');
    const port = Number(new URL(secret.url).port);
    const body = Buffer.alloc(200_000, 'x');
    const held = slowSender(port, `POST /events HTTP/1.1\r\nHost: x\r\nX-Gradestream-Secret: guess\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    expect(await held.answered).toMatchObject({ status: 401 });
    await new Promise((resolve) => (held.socket.destroyed ? resolve(undefined) : held.socket.once('close', resolve)));
    // The right secret with a body over the limit declared: 413 before reading it.
    const big = slowSender(port, `POST /events HTTP/1.1\r\nHost: x\r\nX-Gradestream-Secret: s3cret\r\nContent-Length: 1048576\r\n\r\n`, Buffer.alloc(10));
    expect(await big.answered).toMatchObject({ status: 413 });
    big.socket.destroy();
  });
});

describe('POST /events while the store is unavailable', () => {
  it('answers 503 with Retry-After so the sender redelivers', async () => {
    const failing = { apply: async () => { throw new StoreUnavailableError('database restarting'); } } as unknown as StateStore;
    const hook = await serve(failing, { mode: 'none' });
    try {
      const r = await post(hook.url, fixtureText('grade_change'));
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
    } finally {
      await hook.close();
    }
  });
});
