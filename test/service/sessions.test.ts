import { createHash, createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Sessions } from '../../src/service/sessions.js';
import { Tokens } from '../../src/service/tokens.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import { backends } from '../support/stores.js';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const tokens = Tokens.parse(`
- {name: "Registrar Office", role: admin, token: "sha256:${hex('open-sesame')}"}
- {name: vic, role: viewer, token: "just-looking"}
`);
const HOUR = 3_600_000;

describe.each(backends)('admin page sessions on $name', (backend) => {
  const opened: StateStore[] = [];
  const removers: (() => Promise<void>)[] = [];
  /** `n` stores opened on one fresh database (replicas sharing a store). */
  const stores = async (n: number): Promise<StateStore[]> => {
    const { url, remove } = await backend.storage();
    removers.push(remove);
    const list: StateStore[] = [];
    for (let i = 0; i < n; i++) list.push(await openStore(url));
    opened.push(...list);
    return list;
  };
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const r of removers.splice(0)) await r();
  });

  it('resolves a session to the holder of the token signed in with, with a CSRF token bound to it', async () => {
    const [store] = await stores(1);
    const sessions = await Sessions.open(store!);
    const cookie = await sessions.create(tokens.identify('open-sesame')!, 1_000);
    const session = (await sessions.resolve(cookie, tokens, 2_000))!;
    expect(session.who).toMatchObject({ name: 'Registrar Office', role: 'admin' });
    expect(sessions.csrfValid(session, session.csrf)).toBe(true);
    const other = (await sessions.resolve(await sessions.create(tokens.identify('just-looking')!, 1_000), tokens, 2_000))!;
    expect(other.who.name).toBe('vic');
    expect(other.csrf).not.toBe(session.csrf);
    expect(sessions.csrfValid(session, other.csrf)).toBe(false);
    for (const bad of [undefined, '', 'x', `${session.csrf}=`, session.csrf.slice(1), 42]) expect(sessions.csrfValid(session, bad)).toBe(false);
  });

  it('refuses a cookie forged with the key that was derived from the tokens file, and tampered cookies', async () => {
    const [store] = await stores(1);
    const sessions = await Sessions.open(store!);
    // The old scheme: HMAC under sha256("gradestream-session" ‖ digests), computable from a digest-only file.
    const oldKey = createHash('sha256')
      .update('gradestream-session')
      .update(Buffer.concat([Buffer.from(hex('open-sesame'), 'hex'), createHash('sha256').update('just-looking').digest()]))
      .digest();
    const payload = Buffer.from(JSON.stringify(['Registrar Office', 'admin', Date.now() + HOUR])).toString('base64url');
    const forged = `${payload}.${createHmac('sha256', oldKey).update(payload).digest('base64url')}`;
    expect(await sessions.resolve(forged, tokens)).toBeUndefined();
    const cookie = await sessions.create(tokens.identify('open-sesame')!);
    const [id, mac] = cookie.split('.') as [string, string];
    // Another first character: other bytes (a last character may differ in padding bits only).
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const bad of [`${id}.`, `.${mac}`, `${id}`, `${id}.${mac}x`, `${flip(id)}.${mac}`, `${id}.${flip(mac)}`, `${cookie}.${mac}`, '%E0%A4%A', '']) {
      expect(await sessions.resolve(bad, tokens), bad).toBeUndefined();
    }
    expect(await sessions.resolve(cookie, tokens)).toBeDefined();
  });

  it('ends a session at sign-out (server-side: the cookie no longer works anywhere)', async () => {
    const [a, b] = await stores(2);
    const one = await Sessions.open(a!);
    const two = await Sessions.open(b!);
    const cookie = await one.create(tokens.identify('open-sesame')!);
    expect(await two.resolve(cookie, tokens)).toBeDefined();
    await two.end(cookie);
    expect(await one.resolve(cookie, tokens)).toBeUndefined();
    expect(await two.resolve(cookie, tokens)).toBeUndefined();
  });

  it('ends the sessions of a token removed from the tokens file, not the others', async () => {
    const [store] = await stores(1);
    const sessions = await Sessions.open(store!);
    const registrar = await sessions.create(tokens.identify('open-sesame')!);
    const vic = await sessions.create(tokens.identify('just-looking')!);
    const without = Tokens.parse('- {name: vic, role: viewer, token: "just-looking"}');
    expect(await sessions.resolve(registrar, without)).toBeUndefined();
    expect((await sessions.resolve(vic, without))?.who.name).toBe('vic');
    // Renaming or changing the role of a token keeps its sessions, with the new name and role.
    const renamed = Tokens.parse(`- {name: Registrar, role: viewer, token: "open-sesame"}`);
    expect((await sessions.resolve(registrar, renamed))?.who).toMatchObject({ name: 'Registrar', role: 'viewer' });
  });

  it('expires sessions, and removes expired ones (at each sign-in and when asked)', async () => {
    const [store] = await stores(1);
    const sessions = await Sessions.open(store!, { ttlMs: HOUR });
    const old = await sessions.create(tokens.identify('open-sesame')!, 0);
    expect(await sessions.resolve(old, tokens, HOUR - 1)).toBeDefined();
    expect(await sessions.resolve(old, tokens, HOUR)).toBeUndefined();
    await sessions.create(tokens.identify('open-sesame')!, 0);
    expect(await sessions.clean(2 * HOUR)).toBe(2);
    expect(await sessions.clean(2 * HOUR)).toBe(0);
    await sessions.create(tokens.identify('open-sesame')!, 0);
    const fresh = await sessions.create(tokens.identify('open-sesame')!, 3 * HOUR); // removes the expired one
    expect(await sessions.clean(3 * HOUR)).toBe(0);
    expect(await sessions.resolve(fresh, tokens, 3 * HOUR + 1)).toBeDefined();
  });

  it('shares the generated secret between replicas on one store (opened at once), and keeps it across restarts', async () => {
    const [a, b, c] = await stores(3);
    const [one, two] = await Promise.all([Sessions.open(a!), Sessions.open(b!)]);
    const cookie = await one.create(tokens.identify('open-sesame')!);
    const onTwo = (await two.resolve(cookie, tokens))!;
    expect(onTwo.who.name).toBe('Registrar Office');
    // The CSRF token is the same on every replica.
    expect(one.csrfValid(onTwo, onTwo.csrf)).toBe(true);
    expect((await (await Sessions.open(c!)).resolve(cookie, tokens))?.who.name).toBe('Registrar Office');
  });

  it('signs with GRADESTREAM_SESSION_SECRET when set: cookies of another secret are refused', async () => {
    const [a, b] = await stores(2);
    const set = await Sessions.open(a!, { secret: 'x'.repeat(32) });
    const same = await Sessions.open(b!, { secret: 'x'.repeat(32) });
    const generated = await Sessions.open(b!);
    const cookie = await set.create(tokens.identify('open-sesame')!);
    expect(await same.resolve(cookie, tokens)).toBeDefined();
    expect(await generated.resolve(cookie, tokens)).toBeUndefined();
  });
});
