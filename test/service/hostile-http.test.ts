import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CONNECTIONS } from '../../src/service/limits.js';
import { CREDENTIALS, hostileRequest, type HostileRequest } from '../support/hostile-http.js';
import { random } from '../support/hostile.js';
import { exchange, slowSender, type RawAnswer } from '../support/raw-http.js';
import { startRunProcess, type RunningService } from '../support/service.js';

/**
 * Hostile raw HTTP against a real `gradestream run` (secret mode): 10,000 seeded requests over TCP
 * sockets (test/support/hostile.ts), then hundreds of slow senders holding the last byte of their
 * body, then more connections than the cap. The process must live; every request gets a well-formed
 * answer or a clean close, never a 5xx but the documented 503s; memory stays bounded.
 */
const SEED = Number(process.env['GRADESTREAM_HOSTILE_SEED'] ?? 13);
const REQUESTS = 10_000;
const CONCURRENCY = 32;
const RSS_BOUND_MB = 400;

const rssOf = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
};

describe('hostile raw HTTP against gradestream run', () => {
  let service: RunningService;
  let port: number;
  let pid: number;
  let peakRss = 0;
  let sampler: NodeJS.Timeout;
  const sample = () => {
    if (service.child.exitCode === null) peakRss = Math.max(peakRss, rssOf(pid));
  };
  const figures: Record<string, number | string> = {};

  beforeAll(async () => {
    service = await startRunProcess();
    port = Number(new URL(service.base).port);
    pid = service.child.pid!;
    figures['rss at start (MB)'] = rssOf(pid).toFixed(0);
    sampler = setInterval(sample, 50);
  });
  afterAll(async () => {
    clearInterval(sampler);
    figures['peak rss (MB)'] = peakRss.toFixed(0);
    console.log(`hostile HTTP (seed ${SEED}):\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
    await service?.stop();
  });

  it(`answers ${REQUESTS} seeded hostile requests, each with a well-formed answer or a clean close`, async () => {
    const rnd = random(SEED);
    const requests: HostileRequest[] = Array.from({ length: REQUESTS }, () => hostileRequest(rnd));
    const byClass: Record<string, number> = {};
    const problems: string[] = [];
    let closes = 0;
    let next = 0;
    const record = (r: HostileRequest, a: RawAnswer) => {
      if (a.hung) problems.push(`no answer and no close: ${r.kind}`);
      else if (a.malformed) problems.push(`malformed answer ${JSON.stringify(a.body.subarray(0, 80).toString('latin1'))}: ${r.kind}`);
      else if (a.status === undefined) closes += 1;
      else {
        byClass[`${Math.floor(a.status / 100)}xx`] = (byClass[`${Math.floor(a.status / 100)}xx`] ?? 0) + 1;
        // The documented 503s: the store or JWKS unavailable (webhook), not ready (readyz).
        const documented = a.status === 503 && (r.path === '/events' || r.path === '/readyz');
        if (a.status >= 500 && !documented) problems.push(`${a.status} ${a.body.subarray(0, 120).toString('latin1')}: ${r.kind}`);
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const r = requests[next++]!;
          record(r, await exchange(port, r.chunks, { method: r.method, deadlineMs: 15_000 }));
        }
      }),
    );
    Object.assign(figures, { 'requests sent': REQUESTS, ...Object.fromEntries(Object.entries(byClass).sort()), 'clean closes without answer': closes, problems: problems.length });
    expect(problems.slice(0, 20)).toEqual([]);
    expect(service.child.exitCode).toBeNull();
    expect((await fetch(`${service.base}/healthz`)).status).toBe(200);
    // Still itself: a valid event folds, the API answers.
    const event = await fetch(`${service.base}/events`, { method: 'POST', body: JSON.stringify({ metadata: { event_name: 'grade_change' }, body: {} }), headers: { 'x-gradestream-secret': CREDENTIALS.secret } });
    expect(await event.json()).toEqual({ outcome: 'quarantined', reason: 'invalid_field' });
    expect((await fetch(`${service.base}/api/schedules`, { headers: { authorization: `Bearer ${CREDENTIALS.viewer}` } })).status).toBe(200);
  });

  it('holds hundreds of slow senders (each withholding its last byte) in bounded memory, and answers others meanwhile', async () => {
    const before = rssOf(pid);
    const body = Buffer.alloc(255 * 1024, 'x');
    const authentic = Array.from({ length: 300 }, () =>
      slowSender(port, `POST /events HTTP/1.1\r\nHost: x\r\nX-Gradestream-Secret: ${CREDENTIALS.secret}\r\nContent-Length: ${body.length}\r\n\r\n`, body),
    );
    const refused = Array.from({ length: 100 }, () =>
      slowSender(port, `POST /events HTTP/1.1\r\nHost: x\r\nX-Gradestream-Secret: guess\r\nContent-Length: ${body.length}\r\n\r\n`, body),
    );
    const api = Array.from({ length: 50 }, () =>
      slowSender(port, `POST /api/resend HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CREDENTIALS.admin}\r\nContent-Type: application/json\r\nContent-Length: ${60 * 1024}\r\n\r\n`, Buffer.alloc(60 * 1024, ' ')),
    );
    let settled = 0;
    for (const s of [...authentic, ...api]) void s.answered.then(() => (settled += 1));
    // A refused sender is answered 401 (its body unread) and its connection closed.
    const refusals = await Promise.all(refused.map((s) => s.answered));
    expect(refusals.every((a) => a.status === 401)).toBe(true);
    // Wait until the server holds what the authentic senders sent (its memory stops growing).
    let held = rssOf(pid);
    for (let i = 0, last = 0; i < 40 && Math.abs(held - last) > 1; i++) {
      last = held;
      await new Promise((r) => setTimeout(r, 100));
      held = rssOf(pid);
    }
    sample();
    figures['slow senders held'] = authentic.length + api.length;
    figures['rss before slow senders (MB)'] = before.toFixed(0);
    figures['rss holding slow senders (MB)'] = held.toFixed(0);
    expect((await fetch(`${service.base}/healthz`)).status).toBe(200);
    expect(held).toBeLessThan(RSS_BOUND_MB);
    // Nothing of theirs was answered or cut: they are still sending, within the request timeout.
    expect(settled).toBe(0);
    for (const s of [...authentic, ...api]) s.socket.destroy();
    expect(service.child.exitCode).toBeNull();
    expect((await fetch(`${service.base}/healthz`)).status).toBe(200);
  });

  it(`closes connections beyond ${MAX_CONNECTIONS} at once, and serves again when they go`, async () => {
    const extra = 40;
    let closed = 0;
    const sockets: Socket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS + extra; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('close', () => (closed += 1));
      sockets.push(socket);
    }
    // Until every socket is either connected and held, or closed, and that stops changing.
    for (let i = 0, last = -1; i < 50 && (closed !== last || closed < extra); i++) {
      last = closed;
      await new Promise((r) => setTimeout(r, 100));
    }
    const open = sockets.length - closed;
    figures['connections closed over the cap'] = closed;
    // The server holds at most the cap (a pooled connection of this test's fetch may take a place).
    expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(open).toBeGreaterThanOrEqual(MAX_CONNECTIONS - 8);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(service.child.exitCode).toBeNull();
    expect((await fetch(`${service.base}/healthz`)).status).toBe(200);
    sample();
    expect(peakRss).toBeLessThan(RSS_BOUND_MB);
  });
});
