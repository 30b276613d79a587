import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { apiRoutes, type AdminBackend } from '../../src/service/api.js';
import { pageRoutes } from '../../src/service/page.js';
import { Sessions } from '../../src/service/sessions.js';
import { signInRoutes } from '../../src/service/signin.js';
import { Tokens } from '../../src/service/tokens.js';
import { serveApp } from '../support/http.js';
import { openTestStore, sqlite, type TestStore } from '../support/stores.js';

/** A recording backend: the API layer's job is auth, routing and shapes, tested here on its own. */
function fakeBackend() {
  const calls: unknown[][] = [];
  const backend: AdminBackend = {
    listSchedules: async () => [{ id: 'nightly', hourOfDay: 2, timeZone: 'America/Denver', next_run: '2026-11-26T09:00:00.000Z', status: 'enabled', postedBy: 'Ada <admin>' }],
    runSchedule: async (id, by) => (calls.push(['run', id, by]), { id: 'r1', schedule: id, triggered_by: by }),
    startRun: async (id, by) => (calls.push(['start', id, by]), { run_id: 'r1' }),
    pauseSchedule: async (id, by) => (calls.push(['pause', id, by]), { id, status: 'suspended' }),
    resumeSchedule: async (id, by) => (calls.push(['resume', id, by]), { id, status: 'enabled' }),
    resend: async (sel, by) => (calls.push(['resend', sel, by]), { ok: true }),
    listRuns: async () => [{ id: 'r1', schedule: 'nightly', trigger: 'manual', triggered_by: 'ada', started_at: null, finished_at: null, status: 'succeeded', rows: 3 }],
    getRun: async (id) => (id === 'r1' ? { id } : undefined),
    listHeld: async () => [],
    listQuarantine: async () => [],
  };
  return { backend, calls };
}

describe('admin API and page', () => {
  const tokens = Tokens.parse('- {name: ada, role: admin, token: adm}\n- {name: vic, role: viewer, token: view}');
  const { backend, calls } = fakeBackend();
  let t: TestStore;
  let served: Awaited<ReturnType<typeof serveApp>>;
  let base: string;
  beforeAll(async () => {
    t = await openTestStore(sqlite);
    const deps = { tokens, sessions: await Sessions.open(t.store), backend, log: createLogger('silent') };
    served = await serveApp(apiRoutes(deps), pageRoutes(deps), signInRoutes(deps));
    base = served.base;
  });
  afterAll(async () => {
    await served.close();
    await t.cleanup();
  });
  // The admin page's form posts come from the page: a browser sends its Origin.
  const form = () => ({ 'content-type': 'application/x-www-form-urlencoded', origin: base });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('needs a token for /api/*: 401 without, 403 for a viewer mutating', async () => {
    expect((await fetch(`${base}/api/schedules`)).status).toBe(401);
    expect((await fetch(`${base}/api/schedules`, { headers: bearer('nope') })).status).toBe(401);
    expect((await fetch(`${base}/api/schedules`, { headers: bearer('view') })).status).toBe(200);
    // The scheme name is case-insensitive.
    expect((await fetch(`${base}/api/schedules`, { headers: { authorization: 'bearer view' } })).status).toBe(200);
    expect((await fetch(`${base}/api/schedules/nightly/run`, { method: 'POST', headers: bearer('view') })).status).toBe(403);
    expect(calls).toEqual([]);
  });

  it('records the admin who runs, pauses and resumes', async () => {
    for (const verb of ['run', 'pause', 'resume']) {
      const r = await fetch(`${base}/api/schedules/nightly/${verb}`, { method: 'POST', headers: bearer('adm') });
      expect(r.status).toBe(200);
    }
    expect(calls).toEqual([['run', 'nightly', 'ada'], ['pause', 'nightly', 'ada'], ['resume', 'nightly', 'ada']]);
  });

  it('resend takes exactly one selector', async () => {
    const post = (body: object) => fetch(`${base}/api/resend`, { method: 'POST', headers: { ...bearer('adm'), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({})).status).toBe(400);
    expect((await post({ course: '1', all: true })).status).toBe(400);
    expect((await post({ course: '21070000000000002' })).status).toBe(200);
    expect(calls.at(-1)).toEqual(['resend', { course: '21070000000000002', assignment: undefined, all: false }, 'ada']);
  });

  it('404 for an unknown run, 400 for a bad limit', async () => {
    expect((await fetch(`${base}/api/runs/zzz`, { headers: bearer('view') })).status).toBe(404);
    expect((await fetch(`${base}/api/runs?limit=0`, { headers: bearer('view') })).status).toBe(400);
  });

  it('signs in through the form with an HttpOnly, SameSite=Strict cookie that /api/* accepts', async () => {
    const page = await fetch(`${base}/`);
    expect(await page.text()).toContain('name="token"');
    const bad = await fetch(`${base}/login`, { method: 'POST', body: 'token=wrong', headers: form(), redirect: 'manual' });
    expect(bad.status).toBe(401);
    const login = await fetch(`${base}/login`, { method: 'POST', body: 'token=adm', headers: form(), redirect: 'manual' });
    expect(login.status).toBe(303);
    const setCookie = login.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const session = setCookie.split(';')[0]!;
    const dash = await (await fetch(`${base}/`, { headers: { cookie: session } })).text();
    for (const heading of ['Hour of Day', 'Next Run', 'Status', 'Posted By', 'Actions']) expect(dash).toContain(`<th>${heading}</th>`);
    expect(dash).toContain('02:00 America/Denver');
    expect(dash).toContain('2026-11-26 02:00 MST');
    expect(dash).toContain('Ada &lt;admin&gt;'); // escaped
    expect(dash).toContain('Run this schedule now');
    const served = await fetch(`${base}/`, { headers: { cookie: session } });
    expect(served.headers.get('content-security-policy')).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    expect(served.headers.get('x-frame-options')).toBe('DENY');
    // Every form of the page carries the session's CSRF token.
    const csrf = /name="_csrf" value="([^"]+)"/.exec(dash)![1]!;
    expect(dash.match(/<form /g)!.length).toBe(dash.match(/name="_csrf"/g)!.length);
    const pause = await fetch(`${base}/api/schedules/nightly/pause`, { method: 'POST', headers: { cookie: session, ...form() }, body: `_csrf=${csrf}`, redirect: 'manual' });
    expect(pause.status).toBe(303);
    expect(pause.headers.get('location')).toBe('/');
    // The page's Run button does not wait for the run; an API client does.
    const run = await fetch(`${base}/api/schedules/nightly/run`, { method: 'POST', headers: { cookie: session, ...form() }, body: `_csrf=${csrf}`, redirect: 'manual' });
    expect(run.status).toBe(303);
    expect(calls.at(-1)).toEqual(['start', 'nightly', 'ada']);
    expect((await fetch(`${base}/api/runs`, { headers: { cookie: session } })).status).toBe(200);
  });
});
