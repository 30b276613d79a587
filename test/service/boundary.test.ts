import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactSign } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startService, type Service } from '../../src/service/app.js';
import { fixtureText } from '../support/events.js';
import { jwksServer, signingKey, type SigningKey } from '../support/jwks.js';
import { exchange, slowSender } from '../support/raw-http.js';

/**
 * Issue 13's observations, each reproduced against the whole service (startService, in this process:
 * a request that throws in the listener would stop the test run as it stopped the service).
 */
const ISSUER = 'https://canvas.example.edu';
const hex = (s: string) => createHash('sha256').update(s).digest('hex');
// The tokens file holds digests only: "no secret" in it.
const TOKENS = `- {name: "Registrar Office", role: admin, token: "sha256:${hex('open-sesame')}"}\n- {name: vic, role: viewer, token: "sha256:${hex('just-looking')}"}\n`;

interface Running {
  service: Service;
  base: string;
  port: number;
  dir: string;
  logs: string[];
  stop(): Promise<void>;
}

async function start(env: Record<string, string>, dir = mkdtempSync(join(tmpdir(), 'gradestream-boundary-')), tokens = TOKENS): Promise<Running> {
  writeFileSync(join(dir, 'tokens.yaml'), tokens);
  const logs: string[] = [];
  const config = loadConfig({
    GRADESTREAM_STATE_URL: `sqlite:${join(dir, 'state.db')}`,
    GRADESTREAM_HTTP_PORT: '0',
    GRADESTREAM_ADMIN_TOKENS_FILE: join(dir, 'tokens.yaml'),
    GRADESTREAM_SINK_URL: `file:${join(dir, 'outbox')}`,
    ...env,
  });
  const service = await startService(config, createLogger('debug', { write: (line: string) => void logs.push(line) }));
  return { service, base: `http://127.0.0.1:${service.port}`, port: service.port, dir, logs, stop: () => service.stop() };
}

/** Starts a service before the describe's tests (handing it to `use`); stops it and removes its files after them. */
function during(env: () => Record<string, string>, use: (s: Running) => void): void {
  let s: Running | undefined;
  beforeAll(async () => use((s = await start(env()))));
  afterAll(async () => {
    await s?.stop();
    if (s !== undefined) rmSync(s.dir, { recursive: true, force: true });
  });
}

const HOSTILE_LINES = ['GET /api/runs/%E0%A4%A HTTP/1.1', 'POST /api/schedules/%c0%af/run HTTP/1.1', 'GET http://[/ HTTP/1.1', 'GET //[::1 HTTP/1.1'];

describe.each([
  ['secret', { GRADESTREAM_WEBHOOK_AUTH: 'secret', GRADESTREAM_WEBHOOK_SECRET: 's3cret' }],
  ['none', { GRADESTREAM_WEBHOOK_AUTH: 'none' }],
  ['jwt', { GRADESTREAM_WEBHOOK_AUTH: 'jwt', GRADESTREAM_WEBHOOK_JWKS_URL: 'http://127.0.0.1:9/jwks.json', GRADESTREAM_WEBHOOK_ISSUER: ISSUER }],
])('1. one unauthenticated request stopped the service (webhook mode %s)', (_mode, env) => {
  let s!: Running;
  during(() => env, (r) => (s = r));

  it.each(HOSTILE_LINES)('answers %s with a 4xx and goes on', async (line) => {
    const answer = await exchange(s.port, [`${line}\r\nHost: x\r\nContent-Length: 0\r\n\r\n`]);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.malformed).toBe(false);
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
  });

  it('answers a malformed percent-encoding 400 whatever the route', async () => {
    expect((await fetch(`${s.base}/api/runs/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(`${s.base}/api/schedules/%c0%af/run`, { method: 'POST' })).status).toBe(400);
  });
});

describe('2. a deeply nested claim made jwt mode answer 503 forever', () => {
  let s: Running;
  let key: SigningKey;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  beforeAll(async () => {
    key = await signingKey('k1');
    jwks = await jwksServer([key]);
    s = await start({ GRADESTREAM_WEBHOOK_AUTH: 'jwt', GRADESTREAM_WEBHOOK_JWKS_URL: jwks.url, GRADESTREAM_WEBHOOK_ISSUER: ISSUER });
  });
  afterAll(async () => {
    await s.stop();
    await jwks.close();
    rmSync(s.dir, { recursive: true, force: true });
  });

  it('quarantines it: a final answer (200), not a retry', async () => {
    const depth = 50_000;
    const claims = `{"iss":"${ISSUER}","metadata":{"event_name":"grade_change"},"body":{"assignment_id":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const token = await new CompactSign(Buffer.from(claims)).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(key.privateKey);
    const r = await fetch(`${s.base}/events`, { method: 'POST', body: token, headers: { 'content-type': 'application/jwt' } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ outcome: 'quarantined', reason: 'invalid_field' });
  });
});

describe('3-6. sessions, slow senders, CSRF, query checks (secret mode)', () => {
  let s!: Running;
  during(() => ({ GRADESTREAM_WEBHOOK_SECRET: 's3cret' }), (r) => (s = r));
  const form = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/x-www-form-urlencoded', origin: s.base, ...extra });
  const signIn = async (token: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${s.base}/login`, { method: 'POST', body: `token=${token}`, headers: form(headers), redirect: 'manual' });
    return { status: r.status, setCookie: r.headers.get('set-cookie') ?? '', cookie: (r.headers.get('set-cookie') ?? '').split(';')[0]! };
  };
  const csrfOf = async (cookie: string) => /name="_csrf" value="([^"]+)"/.exec(await (await fetch(`${s.base}/`, { headers: { cookie } })).text())?.[1];

  it('3. refuses a session cookie forged from the digest-only tokens file', async () => {
    const key = createHash('sha256')
      .update('gradestream-session')
      .update(Buffer.concat([Buffer.from(hex('open-sesame'), 'hex'), Buffer.from(hex('just-looking'), 'hex')]))
      .digest();
    const payload = Buffer.from(JSON.stringify(['Registrar Office', 'admin', Date.now() + 3_600_000])).toString('base64url');
    const forged = `gradestream_session=${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
    const r = await fetch(`${s.base}/api/resend`, { method: 'POST', body: 'all=true', headers: { ...form(), cookie: forged }, redirect: 'manual' });
    expect(r.status).toBe(401);
    expect((await fetch(`${s.base}/api/runs`, { headers: { cookie: forged } })).status).toBe(401);
  });

  it('3. signing out ends the session on the server: the old cookie is refused', async () => {
    const { cookie } = await signIn('open-sesame');
    expect((await fetch(`${s.base}/api/runs`, { headers: { cookie } })).status).toBe(200);
    const csrf = await csrfOf(cookie);
    const out = await fetch(`${s.base}/logout`, { method: 'POST', body: `_csrf=${csrf}`, headers: { ...form(), cookie }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/gradestream_session=;.*Max-Age=0/);
    expect((await fetch(`${s.base}/api/runs`, { headers: { cookie } })).status).toBe(401);
  });

  it('4. refuses a wrong secret before reading the body, and a declared 1 MiB body before reading it', async () => {
    const body = Buffer.alloc(512 * 1024, 'x');
    const wrong = slowSender(s.port, `POST /events HTTP/1.1\r\nHost: x\r\nX-Gradestream-Secret: guess\r\nContent-Length: ${body.length}\r\n\r\n`, body);
    expect(await wrong.answered).toMatchObject({ status: 401 });
    const big = slowSender(s.port, `POST /events?secret=s3cret HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n`, Buffer.alloc(16));
    expect(await big.answered).toMatchObject({ status: 413 });
    wrong.socket.destroy();
    big.socket.destroy();
    // Neither secret nor query string is logged.
    expect(s.logs.join('\n')).not.toMatch(/s3cret|guess/);
  });

  it('5. a cookie-authenticated form post needs the CSRF token and the page Origin; a bearer client needs neither', async () => {
    const { cookie } = await signIn('open-sesame');
    const csrf = (await csrfOf(cookie))!;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const pause = (body: string, headers: Record<string, string>) =>
      fetch(`${s.base}/api/resend`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers }, redirect: 'manual' });
    expect((await pause('all=true', { origin: s.base })).status).toBe(403);
    expect((await pause(`all=true&_csrf=${csrf.slice(0, -1)}B`, { origin: s.base })).status).toBe(403);
    expect((await pause(`all=true&_csrf=${csrf}`, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await pause(`all=true&_csrf=${csrf}`, { origin: 'null' })).status).toBe(403);
    expect((await pause(`all=true&_csrf=${csrf}`, {})).status).toBe(403); // neither Origin nor Referer
    expect((await pause(`all=true&_csrf=${csrf}`, { origin: s.base })).status).toBe(303);
    expect((await pause(`all=true&_csrf=${csrf}`, { referer: `${s.base}/` })).status).toBe(303);
    // A sibling subdomain is same-site (SameSite lets its cookie through) but not this origin.
    expect((await pause(`all=true&_csrf=${csrf}`, { origin: 'http://evil.127.0.0.1.nip.io' })).status).toBe(403);
    // Bearer: no Origin, no token.
    const bearer = await fetch(`${s.base}/api/resend`, { method: 'POST', body: '{"all": true}', headers: { authorization: 'Bearer open-sesame', 'content-type': 'application/json' } });
    expect(bearer.status).toBe(200);
    // Login CSRF: a sign-in posted from another site is refused before the token is looked at.
    expect((await fetch(`${s.base}/login`, { method: 'POST', body: 'token=just-looking', headers: { ...form(), origin: 'https://evil.example' }, redirect: 'manual' })).status).toBe(403);
  });

  it('5. sets Secure whenever the client reached the service over TLS (first X-Forwarded-Proto, any case)', async () => {
    const tls = await signIn('just-looking', { 'x-forwarded-proto': 'HTTPS, http' });
    expect(tls.setCookie).toMatch(/; Secure/);
    expect(tls.setCookie).toMatch(/HttpOnly/);
    expect(tls.setCookie).toMatch(/SameSite=Strict/);
    const plain = await signIn('just-looking', { 'x-forwarded-proto': 'http, https' });
    expect(plain.status).toBe(303);
    expect(plain.setCookie).not.toMatch(/Secure/);
  });

  it('6. answers 400 to a quarantine listing after something that is not an id', async () => {
    const r = await fetch(`${s.base}/api/quarantine?after=abc`, { headers: { authorization: 'Bearer just-looking' } });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: expect.stringMatching(/after/) });
    expect((await fetch(`${s.base}/api/quarantine?after=99999999999999999999`, { headers: { authorization: 'Bearer just-looking' } })).status).toBe(400);
    expect((await fetch(`${s.base}/api/quarantine?after=0`, { headers: { authorization: 'Bearer just-looking' } })).status).toBe(200);
  });

  it('folds a webhook event as before', async () => {
    const r = await fetch(`${s.base}/events`, { method: 'POST', body: fixtureText('grade_change'), headers: { 'x-gradestream-secret': 's3cret' } });
    expect(await r.json()).toEqual({ outcome: 'applied' });
  });
});

describe('3. failed sign-ins', () => {
  let s!: Running;
  during(() => ({ GRADESTREAM_WEBHOOK_SECRET: 's3cret' }), (r) => (s = r));
  const signIn = async (token: string) =>
    (await fetch(`${s.base}/login`, { method: 'POST', body: `token=${token}`, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.base }, redirect: 'manual' })).status;

  it('3. sign-ins are limited per client (429), and a failure is logged with the address, never the token', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push(await signIn(`guess-number-${i}`));
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    expect(await signIn('open-sesame')).toBe(429); // even the right token, within the minute
    const failures = s.logs.filter((l) => l.includes('sign-in failed'));
    expect(failures).toHaveLength(10);
    expect(JSON.parse(failures[0]!)).toMatchObject({ level: 40, ip: expect.stringMatching(/127\.0\.0\.1/) });
    expect(s.logs.join('\n')).not.toMatch(/guess-number/);
  });

});
