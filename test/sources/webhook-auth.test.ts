import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { webhookAuthenticator, webhookAuthSettings, type WebhookRequest } from '../../src/sources/webhook-auth.js';
import { fixture } from '../support/events.js';
import { jwksServer, signEvent, signingKey, type SigningKey } from '../support/jwks.js';

const ISSUER = 'https://canvas.example.edu';
const request = (body: string, headers: WebhookRequest['headers'] = {}, query = ''): WebhookRequest => ({
  body: Buffer.from(body),
  headers,
  query: new URLSearchParams(query),
});

describe('webhook auth settings (SPEC §1.1 defaults)', () => {
  it.each([
    [{}, 'none'],
    [{ webhookSecret: 's3cret' }, 'secret'],
    [{ webhookJwksUrl: 'https://x/jwks', webhookIssuer: ISSUER }, 'jwt'],
    [{ webhookJwksUrl: 'https://x/jwks', webhookIssuer: ISSUER, webhookSecret: 's' }, 'jwt'],
    [{ webhookAuth: 'none' as const, webhookSecret: 's' }, 'none'],
  ])('%j → %s', (config, mode) => {
    expect(webhookAuthSettings(config).mode).toBe(mode);
  });

  it('lists every missing setting', () => {
    expect(() => webhookAuthSettings({ webhookAuth: 'jwt' })).toThrow(ConfigError);
    try {
      webhookAuthSettings({ webhookAuth: 'jwt' });
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'GRADESTREAM_WEBHOOK_AUTH=jwt needs GRADESTREAM_WEBHOOK_JWKS_URL',
        'GRADESTREAM_WEBHOOK_AUTH=jwt needs GRADESTREAM_WEBHOOK_ISSUER',
      ]);
    }
    expect(() => webhookAuthSettings({ webhookAuth: 'secret' })).toThrow(/needs GRADESTREAM_WEBHOOK_SECRET/);
  });
});

describe('shared secret', () => {
  const auth = webhookAuthenticator({ mode: 'secret', secret: 's3cret' });
  it('accepts the header or the query parameter', async () => {
    expect(await auth.authenticate(request('{}', { 'x-gradestream-secret': 's3cret' }))).toEqual({ ok: true, text: '{}', bytes: Buffer.from('{}') });
    expect(await auth.authenticate(request('{}', {}, 'secret=s3cret'))).toEqual({ ok: true, text: '{}', bytes: Buffer.from('{}') });
  });
  it.each([
    [{}, '', 'no webhook secret given'],
    [{ 'x-gradestream-secret': 's3cre' }, '', 'wrong webhook secret'],
    [{}, 'secret=S3CRET', 'wrong webhook secret'],
  ])('refuses %j %s', async (headers, query, why) => {
    expect(await auth.authenticate(request('{}', headers, query))).toEqual({ ok: false, why });
  });
});

describe('signed payloads (RS256 JWS against a JWKS)', () => {
  let keyA: SigningKey;
  let keyB: SigningKey;
  let stranger: SigningKey;
  let jwks: Awaited<ReturnType<typeof jwksServer>>;
  const claims = fixture('grade_change');

  beforeAll(async () => {
    [keyA, keyB, stranger] = await Promise.all([signingKey('a'), signingKey('b'), signingKey('a')]);
    jwks = await jwksServer([keyA]);
  });
  afterAll(() => jwks.close());

  const authenticator = () => webhookAuthenticator({ mode: 'jwt', jwksUrl: jwks.url, issuer: ISSUER }, { cooldownMs: 0 });

  it('accepts a valid signature and yields the Canvas message of its claims: the signed payload as it is', async () => {
    const token = await signEvent(keyA, claims, { issuer: ISSUER, expiresIn: '5m' });
    const result = await authenticator().authenticate(request(token));
    expect(result.ok).toBe(true);
    // The registered claims (iss, iat, exp) are beside metadata and body; intake reads these two.
    expect(result.ok && JSON.parse(result.text)).toMatchObject({ metadata: claims.metadata, body: claims.body, iss: ISSUER });
    expect(result.ok && Buffer.from(result.bytes).toString('base64url')).toBe(token.split('.')[1]);
  });

  it('rejects a tampered payload', async () => {
    const token = await signEvent(keyA, claims, { issuer: ISSUER });
    const [header, payload, signature] = token.split('.');
    const forged = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    forged.body.score = 100;
    const tampered = [header, Buffer.from(JSON.stringify(forged)).toString('base64url'), signature].join('.');
    expect(await authenticator().authenticate(request(tampered))).toEqual({ ok: false, why: 'signature verification failed', retryable: false });
  });

  it('rejects a key with a known kid but other material, and an unknown kid', async () => {
    const impostor = await signEvent(stranger, claims, { issuer: ISSUER });
    expect(await authenticator().authenticate(request(impostor))).toMatchObject({ ok: false, retryable: false });
    const unknown = await signEvent(keyB, claims, { issuer: ISSUER });
    expect(await authenticator().authenticate(request(unknown))).toEqual({ ok: false, why: 'no key of the JWKS matches the token', retryable: false });
  });

  it('rejects a wrong issuer, a missing issuer and an expired token', async () => {
    const auth = authenticator();
    expect(await auth.authenticate(request(await signEvent(keyA, claims, { issuer: 'https://evil.example' })))).toMatchObject({ ok: false, why: expect.stringMatching(/claim iss/) });
    expect(await auth.authenticate(request(await signEvent(keyA, claims)))).toMatchObject({ ok: false, why: expect.stringMatching(/claim iss/) });
    expect(await auth.authenticate(request(await signEvent(keyA, claims, { issuer: ISSUER, expiresIn: Math.floor(Date.now() / 1000) - 60 })))).toMatchObject({ ok: false, why: 'token expired' });
  });

  it('rejects what is not a JWS at all', async () => {
    expect(await authenticator().authenticate(request(JSON.stringify(claims)))).toMatchObject({ ok: false, retryable: false });
  });

  it('picks up a rotated key: an unknown kid refreshes the cached JWKS', async () => {
    const auth = authenticator();
    expect((await auth.authenticate(request(await signEvent(keyA, claims, { issuer: ISSUER })))).ok).toBe(true);
    const before = jwks.fetches();
    jwks.setKeys([keyB]); // Canvas rotated: A retired, B current
    expect((await auth.authenticate(request(await signEvent(keyB, claims, { issuer: ISSUER })))).ok).toBe(true);
    expect(jwks.fetches()).toBe(before + 1);
    jwks.setKeys([keyA]);
  });

  it('a kid the JWKS lacked when it was just fetched is retried (503) until a fetch after it decides', async () => {
    const auth = webhookAuthenticator({ mode: 'jwt', jwksUrl: jwks.url, issuer: ISSUER }, { cooldownMs: 1500 });
    expect((await auth.authenticate(request(await signEvent(keyA, claims, { issuer: ISSUER })))).ok).toBe(true);
    jwks.setKeys([keyA, keyB]); // Canvas rotates B in, just after the fetch
    const rotated = await signEvent(keyB, claims, { issuer: ISSUER });
    expect(await auth.authenticate(request(rotated))).toMatchObject({ ok: false, retryable: true });
    await new Promise((r) => setTimeout(r, 1600));
    expect((await auth.authenticate(request(rotated))).ok).toBe(true); // the sender's retry
    // A kid that a fetch made after it came in still lacks: refused for good.
    await new Promise((r) => setTimeout(r, 1600));
    const stray = await signEvent(await signingKey('z'), claims, { issuer: ISSUER });
    expect(await auth.authenticate(request(stray))).toEqual({ ok: false, why: 'no key of the JWKS matches the token', retryable: false });
    jwks.setKeys([keyA]);
  });

  it('an unreachable JWKS is retryable, not a 401', async () => {
    const auth = webhookAuthenticator({ mode: 'jwt', jwksUrl: 'http://127.0.0.1:9/jwks.json', issuer: ISSUER });
    expect(await auth.authenticate(request(await signEvent(keyA, claims, { issuer: ISSUER })))).toMatchObject({ ok: false, retryable: true });
  });
});
