import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, UsageError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { CanvasApi } from '../../src/sources/canvas/api.js';
import { CanvasClient, type CanvasClientOptions } from '../../src/sources/canvas/client.js';
import {
  CanvasNotFoundError,
  CanvasRequestError,
  CanvasResponseError,
  CanvasUnauthorizedError,
  CanvasUnavailableError,
} from '../../src/sources/canvas/errors.js';
import { CanvasCourse, CanvasEnrollment, CanvasSubmission } from '../../src/sources/canvas/schemas.js';
import { closedPort, startServer, type TestServer } from '../sinks/server.js';
import { CanvasStandin } from '../support/canvas-standin.js';

let standin: CanvasStandin;
let other: TestServer | undefined;

beforeEach(async () => {
  standin = await CanvasStandin.start({ token: 'tok-SECRET-8f3a' });
});
afterEach(async () => {
  await standin.close();
  await other?.close();
  other = undefined;
});

/** A client of the stand-in whose waits are recorded rather than slept. */
function clientFor(options: Partial<CanvasClientOptions> = {}) {
  const sleeps: number[] = [];
  const client = new CanvasClient({
    baseUrl: standin.url,
    token: standin.token,
    backoff: { initialMs: 100, maxMs: 1000 },
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { client, api: new CanvasApi(client), sleeps };
}

async function collect<T>(pages: AsyncIterable<{ items: T[] }>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const page of pages) out.push(page.items);
  return out;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('CanvasClient: requests', () => {
  it('sends the token, asks for string ids, names gradestream, and the ids arrive as strings', async () => {
    const course = standin.addCourse({ sis: 'MATH-101', students: 3 });
    const { api } = clientFor();
    const { body } = await api.course(String(course.id));
    expect(body).toEqual({
      id: String(course.id),
      name: course.name,
      sis_course_id: 'MATH-101',
      root_account_id: '1',
      enrollment_term_id: '1',
      workflow_state: 'available',
    });
    const [page] = await collect(api.studentEnrollments(String(course.id)));
    expect(page!.map((e) => typeof e.user_id)).toEqual(['string', 'string', 'string']);
    const request = standin.requests[0]!;
    expect(request.headers.authorization).toBe('Bearer tok-SECRET-8f3a');
    expect(request.headers.accept).toBe('application/json+canvas-string-ids');
    expect(request.headers['user-agent']).toMatch(/gradestream/);
  });

  it('accepts an id sent as a safe JSON number, and refuses one above 2^53 (its digits are lost)', async () => {
    const { client } = clientFor();
    const course = (id: string) =>
      `{"id": ${id}, "name": "N", "sis_course_id": null, "root_account_id": 1, "enrollment_term_id": null, "workflow_state": "available"}`;
    standin.answerNext({ status: 200, body: course('42') });
    expect((await client.get('/api/v1/courses/42', {}, CanvasCourse)).body.id).toBe('42');

    standin.answerNext({ status: 200, body: course('21070000000000565') });
    const err = await failure(client.get('/api/v1/courses/21070000000000565', {}, CanvasCourse));
    expect(err).toBeInstanceOf(CanvasResponseError);
    expect((err as Error).message).toMatch(/^Canvas's answer to GET \/api\/v1\/courses\/21070000000000565 is unusable: id: .*2\^53/);
    expect((err as CanvasResponseError).code).toBe('CANVAS_BAD_RESPONSE');
    expect((err as CanvasResponseError).retryable).toBe(false);
  });

  it('refuses a base URL that would send the token in clear or with credentials', () => {
    expect(() => new CanvasClient({ baseUrl: 'http://canvas.example.edu', token: 't' })).toThrow(ConfigError);
    expect(() => new CanvasClient({ baseUrl: 'https://u:p@canvas.example.edu', token: 't' })).toThrow(ConfigError);
    expect(() => new CanvasClient({ baseUrl: 'not a url', token: 't' })).toThrow(ConfigError);
    expect(() => new CanvasClient({ baseUrl: 'https://canvas.example.edu', token: ' ' })).toThrow(ConfigError);
    expect(new CanvasClient({ baseUrl: 'https://canvas.example.edu/', token: 't' }).origin).toBe('https://canvas.example.edu');
  });

  it('refuses an id that is not a decimal number before any request', async () => {
    const { api } = clientFor();
    expect(() => api.course('12/../../accounts/1')).toThrow(UsageError);
    expect(() => api.studentEnrollments('1', 'x')).toThrow(UsageError);
    expect(standin.requests).toHaveLength(0);
  });
});

describe('CanvasClient: pagination', () => {
  it('walks every page with per_page=100 and stops after the last', async () => {
    const course = standin.addCourse({ students: 250 });
    const { api, client } = clientFor();
    const pages = await collect(api.studentEnrollments(String(course.id)));
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    const ids = pages.flat().map((e) => e.user_id);
    expect(new Set(ids).size).toBe(250);
    expect(ids).toEqual(course.students.map((s) => String(s.userId)));
    expect(standin.count(`/api/v1/courses/${course.id}/enrollments`)).toBe(3);
    expect(standin.requests[0]!.query.get('per_page')).toBe('100');
    expect(client.stats.requests).toBe(3);
  });

  it('follows a relative next link on the same origin', async () => {
    const course = standin.addCourse({ students: 150 });
    standin.rewriteNext = (next) => new URL(next).pathname + new URL(next).search;
    const { api } = clientFor();
    expect((await collect(api.studentEnrollments(String(course.id)))).map((p) => p.length)).toEqual([100, 50]);
  });

  it('does not follow a next link to another origin, and never sends the token there', async () => {
    other = await startServer(() => ({ status: 200, body: '[]', headers: { 'content-type': 'application/json' } }));
    const course = standin.addCourse({ students: 150 });
    standin.rewriteNext = (next) => next.replace(standin.url, other!.url);
    const { api } = clientFor();
    const seen: number[] = [];
    const err = await failure(
      (async () => {
        for await (const page of api.studentEnrollments(String(course.id))) seen.push(page.items.length);
      })(),
    );
    expect(seen).toEqual([100]);
    expect(err).toBeInstanceOf(CanvasResponseError);
    expect((err as Error).message).toContain(`leads to ${other.url}`);
    expect(other.requests).toHaveLength(0);
  });

  it('stops with an error on a next link that leads back to a page already read', async () => {
    const first = `${standin.url}/api/v1/courses/1/assignments?per_page=100`;
    standin.answerNext({ status: 200, body: '[]', headers: { link: `<${first}&page=2>; rel="next"` } });
    standin.answerNext({ status: 200, body: '[]', headers: { link: `<${first}>; rel="next"` } });
    const { client } = clientFor();
    const err = await failure(collect(client.pages('/api/v1/courses/1/assignments', {}, z.unknown())));
    expect(err).toBeInstanceOf(CanvasResponseError);
    expect((err as Error).message).toContain('already read');
    expect(standin.requests).toHaveLength(2);
  });

  it('a list answer that is not a list is a CanvasResponseError', async () => {
    standin.answerNext({ status: 200, body: '{"errors": []}' });
    const { client } = clientFor();
    const err = await failure(collect(client.pages('/api/v1/courses/1/assignments', {}, z.unknown())));
    expect(err).toBeInstanceOf(CanvasResponseError);
    expect((err as Error).message).toContain('expected a JSON array, got an object');
  });
});

describe('CanvasClient: failures', () => {
  it('retries throttled answers (403 Rate Limit Exceeded, then 429), honours Retry-After, and counts them', async () => {
    const course = standin.addCourse();
    let sent = 0;
    const { api, client, sleeps } = clientFor({ onRequest: () => (sent += 1) });
    standin.throttleNext(2, { retryAfter: '7' });
    expect((await api.course(String(course.id))).body.id).toBe(String(course.id));
    expect(client.stats).toMatchObject({ requests: 3, retries: 2, throttled: 2 });
    expect(sent).toBe(3);
    // Retry-After 7 s beats the backoff's 100 and 200 ms
    expect(sleeps.filter((ms) => ms === 7000)).toHaveLength(2);

    standin.throttleNext(1, { status: 429 });
    await api.course(String(course.id));
    expect(client.stats).toMatchObject({ requests: 5, retries: 3, throttled: 3 });
  });

  it('retries 5xx, then fails with CanvasUnavailableError after `attempts`', async () => {
    const course = standin.addCourse();
    const { api, client, sleeps } = clientFor({ attempts: 3 });
    standin.failNext(2, 503);
    await api.course(String(course.id));
    expect(client.stats).toMatchObject({ requests: 3, retries: 2 });
    expect(sleeps).toEqual([100, 200]); // exponential: initialMs × 2^(n−1) (jitter pinned by random = 1)

    standin.failNext(10, 500);
    const err = await failure(api.course(String(course.id)));
    expect(err).toBeInstanceOf(CanvasUnavailableError);
    expect(err).toMatchObject({ code: 'CANVAS_UNAVAILABLE', retryable: true, attempts: 3 });
    expect((err as Error).message).toContain('after 3 attempts: HTTP 500: "An error occurred."');
    expect(standin.count(`/api/v1/courses/${course.id}`)).toBe(6);
  });

  it('retries network errors and timeouts the same way', async () => {
    const port = await closedPort();
    const client = new CanvasClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', attempts: 2, sleep: async () => undefined });
    const err = await failure(client.get('/api/v1/courses/1', {}, CanvasCourse));
    expect(err).toBeInstanceOf(CanvasUnavailableError);
    expect(client.stats).toMatchObject({ requests: 2, retries: 1 });

    standin.addCourse({ id: 7 });
    standin.latencyMs = 5000;
    const slow = clientFor({ attempts: 2, timeoutMs: 20 }).client;
    const timedOut = await failure(slow.get('/api/v1/courses/7', {}, CanvasCourse));
    expect(timedOut).toBeInstanceOf(CanvasUnavailableError);
    expect((timedOut as Error).message).toContain('after 2 attempts: timed out');
  });

  it('401 fails at once, names GRADESTREAM_CANVAS_TOKEN and never the token', async () => {
    const course = standin.addCourse();
    const logs: string[] = [];
    const log = createLogger('debug', new Writable({ write: (chunk, _, done) => (logs.push(String(chunk)), done()) }));
    const { api, client } = clientFor({ token: 'wrong-TOKEN-77', log, attempts: 6 });
    const err = await failure(api.course(String(course.id)));
    expect(err).toBeInstanceOf(CanvasUnauthorizedError);
    expect(err).toMatchObject({ code: 'CANVAS_UNAUTHORIZED', retryable: false });
    expect((err as Error).message).toContain('GRADESTREAM_CANVAS_TOKEN');
    expect(JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack, ...(err as object) })).not.toContain('wrong-TOKEN-77');
    expect(logs.join('')).not.toContain('wrong-TOKEN-77');
    expect(client.stats.requests).toBe(1);
    expect(standin.requests).toHaveLength(1);
  });

  it('the token never reaches the logs, through retries and throttling either', async () => {
    const course = standin.addCourse({ students: 120 });
    const logs: string[] = [];
    const log = createLogger('debug', new Writable({ write: (chunk, _, done) => (logs.push(String(chunk)), done()) }));
    const { api } = clientFor({ log });
    standin.throttleNext(1);
    standin.failNext(1, 502);
    await collect(api.studentEnrollments(String(course.id)));
    expect(logs.length).toBeGreaterThan(3);
    expect(logs.join('')).not.toContain(standin.token);
  });

  it('404 is a CanvasNotFoundError, not retried', async () => {
    const course = standin.addCourse();
    standin.notFound(course.id);
    const { api, client } = clientFor();
    const err = await failure(api.course(String(course.id)));
    expect(err).toBeInstanceOf(CanvasNotFoundError);
    expect(err).toMatchObject({ code: 'CANVAS_NOT_FOUND', retryable: false, path: `/api/v1/courses/${course.id}` });
    expect(client.stats.requests).toBe(1);
  });

  it('other 4xx, a 403 that is not throttling, and redirects are CanvasRequestErrors, not retried', async () => {
    const { client } = clientFor();
    standin.answerNext({ status: 403, body: '{"status":"unauthorized","errors":[{"message":"user not authorized to perform that action"}]}' });
    const forbidden = await failure(client.get('/api/v1/courses/1', {}, CanvasCourse));
    expect(forbidden).toBeInstanceOf(CanvasRequestError);
    expect(forbidden).toMatchObject({ code: 'CANVAS_REQUEST_FAILED', status: 403, retryable: false });
    expect((forbidden as Error).message).toContain('user not authorized to perform that action');

    standin.answerNext({ status: 302, headers: { location: 'https://elsewhere.example/login' } });
    const redirect = await failure(client.get('/api/v1/courses/1', {}, CanvasCourse));
    expect(redirect).toMatchObject({ status: 302 });
    expect((redirect as Error).message).toContain('https://elsewhere.example');
    expect(client.stats).toMatchObject({ requests: 2, retries: 0 });
  });

  it('a body that is not JSON, not UTF-8, too large or of the wrong shape is a CanvasResponseError, not retried', async () => {
    const { client } = clientFor({ maxBodyBytes: 4096 });
    standin.answerNext({ status: 200, body: '<html><body>Canvas is down for maintenance</body></html>' });
    const html = await failure(client.get('/api/v1/courses/1', {}, CanvasCourse));
    expect(html).toBeInstanceOf(CanvasResponseError);
    expect((html as Error).message).toBe(
      `Canvas's answer to GET /api/v1/courses/1 is unusable: its body is not JSON (it begins "<html><body>Canvas is down for maintenance</body></html>")`,
    );

    standin.answerNext({ status: 200, body: Buffer.from([0x7b, 0xff, 0x7d]) });
    expect(((await failure(client.get('/api/v1/courses/1', {}, CanvasCourse))) as Error).message).toContain('not UTF-8');

    standin.answerNext({ status: 200, body: `[${'1,'.repeat(4000)}1]` });
    expect(((await failure(client.get('/api/v1/courses/1', {}, CanvasCourse))) as Error).message).toContain('larger than 4096 bytes');

    standin.answerNext({ status: 200, body: '{"id": "1", "name": "N", "workflow_state": "archived"}' });
    const shape = await failure(client.get('/api/v1/courses/1', {}, CanvasCourse));
    expect(shape).toBeInstanceOf(CanvasResponseError);
    expect((shape as Error).message).toMatch(/workflow_state: /);
    expect(client.stats).toMatchObject({ requests: 4, retries: 0 });
  });

  it('whatever the body, a read yields pages or fails with a CanvasResponseError, never anything else', async () => {
    const { client } = clientFor();
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const fixed = [
      deep(200_000),
      `{"id": ${deep(50_000)}, "workflow_state": "available"}`,
      '[{"__proto__": {"id": "1"}, "constructor": 1}]',
      '[null, 1, "x", [], {"grades": null}]',
      `[{"id": "1", "user_id": "2", "course_id": "3", "enrollment_state": "active", "grades": ${deep(10_000)}}]`,
      '\u0000',
      '',
    ];
    const bodies = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.array(fc.jsonValue(), { maxLength: 5 }).map((v) => JSON.stringify(v)),
      fc.array(fc.dictionary(fc.constantFrom('id', 'user_id', 'grades', 'score', 'posted_at', 'workflow_state', 'enrollment_state'), fc.jsonValue()), { maxLength: 4 }).map((v) => JSON.stringify(v)),
    );
    const outcome = async (body: string, schema: z.ZodType<unknown>) => {
      standin.answerNext({ status: 200, body });
      try {
        for await (const page of client.pages('/api/v1/courses/1/enrollments', {}, schema)) {
          expect(page.items.length + page.rejected.length).toBeGreaterThanOrEqual(0);
        }
        return 'pages';
      } catch (err) {
        expect(err).toBeInstanceOf(CanvasResponseError);
        return 'error';
      }
    };
    for (const body of fixed) await outcome(body, CanvasEnrollment);
    await fc.assert(
      fc.asyncProperty(bodies, fc.boolean(), async (body, enrollments) => {
        await outcome(body, enrollments ? CanvasEnrollment : CanvasSubmission);
      }),
      { numRuns: 300 },
    );
  });

  it("reads JSON behind Canvas's while(1); guard", async () => {
    const { client } = clientFor();
    standin.answerNext({ status: 200, body: 'while(1);{"id":"3","name":"N","sis_course_id":null,"root_account_id":"1","enrollment_term_id":null,"workflow_state":"completed"}' });
    expect((await client.get('/api/v1/courses/3', {}, CanvasCourse)).body.workflow_state).toBe('completed');
  });
});

describe('CanvasClient: pacing', () => {
  it('never has more than `concurrency` requests in flight across calls', async () => {
    for (let i = 0; i < 12; i++) standin.addCourse();
    standin.latencyMs = 30;
    const { api, client } = clientFor({ concurrency: 3 });
    const ids = [...standin.courses.keys()];
    const read = await Promise.all(ids.map((id) => api.course(String(id))));
    expect(read.map((r) => r.body.id)).toEqual(ids.map(String));
    expect(client.peakInFlight).toBe(3);
    expect(standin.peakInFlight).toBeLessThanOrEqual(3);
    expect(standin.peakInFlight).toBeGreaterThanOrEqual(1);
  });

  it('goes one at a time, and waits, while X-Rate-Limit-Remaining is low; back to parallel once it recovers', async () => {
    for (let i = 0; i < 9; i++) standin.addCourse();
    standin.latencyMs = 20;
    standin.rateLimitRemaining = 25;
    const { api, client, sleeps } = clientFor({ concurrency: 4 });
    const [first, ...rest] = [...standin.courses.keys()];
    await api.course(String(first));
    await Promise.all(rest.map((id) => api.course(String(id))));
    expect(standin.peakInFlight).toBe(1);
    expect(client.stats.slowdowns).toBe(8);
    // (100 − 25) / 100 of 4 × the first backoff delay (100 ms)
    expect(sleeps).toEqual(Array(8).fill(300));

    standin.rateLimitRemaining = 700;
    await api.course(String(first)); // reads the recovered quota
    await Promise.all(rest.map((id) => api.course(String(id))));
    expect(client.peakInFlight).toBe(4);
    expect(client.stats.slowdowns).toBe(9);
  });

  it('after throttling, slows down until an answer shows the quota back (or no quota at all)', async () => {
    for (let i = 0; i < 5; i++) standin.addCourse();
    const { api, client } = clientFor({ concurrency: 4 });
    const [first, ...rest] = [...standin.courses.keys()];
    standin.throttleNext(1); // X-Rate-Limit-Remaining: 0
    standin.rateLimitRemaining = 10;
    await api.course(String(first));
    await Promise.all(rest.map((id) => api.course(String(id))));
    expect(client.stats).toMatchObject({ throttled: 1, slowdowns: 5 });
    expect(client.peakInFlight).toBe(1);

    standin.rateLimitRemaining = null; // throttling no longer applies: no header
    await api.course(String(first));
    await Promise.all(rest.map((id) => api.course(String(id))));
    expect(client.stats.slowdowns).toBe(6);
    expect(client.peakInFlight).toBe(4);
  });
});

describe('CanvasClient: the Date of an answer', () => {
  it("is the Date header's instant", async () => {
    const course = standin.addCourse({ students: 150 });
    standin.now = Date.UTC(2025, 4, 6, 7, 8, 9);
    const { api, client } = clientFor();
    expect((await api.course(String(course.id))).date).toBe(Date.UTC(2025, 4, 6, 7, 8, 9));
    const dates: number[] = [];
    for await (const page of api.studentEnrollments(String(course.id))) {
      dates.push(page.date);
      standin.now += 61_000;
    }
    expect(dates).toEqual([Date.UTC(2025, 4, 6, 7, 8, 9), Date.UTC(2025, 4, 6, 7, 9, 10)]);
    expect(client.stats.dateFallbacks).toBe(0);
  });

  it('falls back to the local receive time, counted, when the Date header is missing, unreadable or far ahead', async () => {
    const course = standin.addCourse();
    const local = Date.UTC(2025, 2, 3, 12, 0, 0);
    const { api, client } = clientFor({ now: () => local });
    standin.dateHeader = null;
    expect((await api.course(String(course.id))).date).toBe(local);
    standin.dateHeader = 'yesterday';
    expect((await api.course(String(course.id))).date).toBe(local);
    standin.dateHeader = new Date(local + 25 * 3600_000).toUTCString();
    expect((await api.course(String(course.id))).date).toBe(local);
    standin.dateHeader = new Date(local + 3600_000).toUTCString(); // an hour ahead is believed
    expect((await api.course(String(course.id))).date).toBe(local + 3600_000);
    expect(client.stats.dateFallbacks).toBe(3);
  });
});
