import { afterEach, describe, expect, it } from 'vitest';
import { SinkRejectedError, SinkUnavailableError } from '../../src/sinks/errors.js';
import { csvChunks, encodeCsv } from '../../src/sinks/formats/index.js';
import { HttpsSink } from '../../src/sinks/https.js';
import { replayable, type Batch } from '../../src/sinks/types.js';
import { assignmentRow, courseRow } from '../sync/rows.js';
import { closedPort, startServer, type Reply, type TestServer } from './server.js';

const rows = [assignmentRow(), courseRow()];
const CSV = Buffer.from(encodeCsv(rows));
const batch = (bytes: Batch['files'][number]['bytes'] = CSV): Batch => ({
  id: 'b1',
  files: [{ name: 'gradestream-b1.csv', contentType: 'text/csv; charset=utf-8', bytes }],
});

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A sink whose backoff sleeps are recorded instead of waited. */
function sinkFor(url: string, options: ConstructorParameters<typeof HttpsSink>[1] = {}) {
  const sleeps: number[] = [];
  const sink = new HttpsSink(new URL(url), {
    baseDelayMs: 100,
    maxDelayMs: 1000,
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...options,
  });
  return { sink, sleeps };
}

function script(...replies: Reply[]) {
  return (_: unknown, index: number) => replies[Math.min(index, replies.length - 1)]!;
}

describe('https sink', () => {
  it('POSTs the bytes with the Idempotency-Key and Content-Type', async () => {
    server = await startServer(script({ status: 200 }));
    const { sink } = sinkFor(`${server.url}/grades?term=fall`);
    const delivery = await sink.deliver(batch());
    expect(delivery.location).toBe(`${server.url}/grades?term=fall`);
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe('/grades?term=fall');
    expect(request!.headers['idempotency-key']).toBe('b1');
    expect(request!.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(request!.headers['x-gradestream-batch-id']).toBe('b1');
    expect(request!.body.equals(CSV)).toBe(true);
  });

  it('retries a 503 with backoff and the same key and bytes, streaming again', async () => {
    server = await startServer(script({ status: 503, body: 'maintenance' }, { status: 201, headers: { location: '/batches/42' } }));
    const { sink, sleeps } = sinkFor(`${server.url}/grades`);
    const delivery = await sink.deliver(batch(replayable(() => csvChunks(rows))));
    expect(delivery.location).toBe(`${server.url}/batches/42`);
    expect(server.requests).toHaveLength(2);
    expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual(['b1', 'b1']);
    for (const request of server.requests) expect(request.body.equals(CSV)).toBe(true);
    expect(sleeps).toEqual([100]);
  });

  it('keeps a one-shot stream for the retry', async () => {
    server = await startServer(script({ status: 500 }, { status: 502 }, { status: 200 }));
    const { sink, sleeps } = sinkFor(server.url);
    await sink.deliver(batch(csvChunks(rows)));
    expect(server.requests.map((r) => r.body.equals(CSV))).toEqual([true, true, true]);
    expect(sleeps).toEqual([100, 200]); // full jitter with random() = 1: the ceiling, doubling
  });

  it('tells of each retry before waiting: attempt, delay and what failed (the service logs it at warn)', async () => {
    server = await startServer(script({ status: 503, body: 'maintenance' }, { status: 500 }, { status: 200 }));
    const retries: unknown[] = [];
    const { sink } = sinkFor(`${server.url}/grades`, { onRetry: (r) => retries.push(r) });
    await sink.deliver(batch());
    expect(retries).toEqual([
      { target: `${server.url}/grades`, batch: 'b1', attempt: 1, delayMs: 100, problem: 'HTTP 503: maintenance' },
      { target: `${server.url}/grades`, batch: 'b1', attempt: 2, delayMs: 200, problem: 'HTTP 500' },
    ]);
  });

  it('honours Retry-After on 429, capped', async () => {
    server = await startServer(script({ status: 429, headers: { 'retry-after': '5' } }, { status: 200 }));
    const { sink, sleeps } = sinkFor(server.url, { random: () => 0 });
    await sink.deliver(batch());
    expect(sleeps).toEqual([1000]);
  });

  it('fails at once on a 4xx, with the message from the body', async () => {
    server = await startServer(script({ status: 422, body: JSON.stringify({ message: 'unknown student S9' }) }));
    const { sink, sleeps } = sinkFor(server.url);
    const error = await sink.deliver(batch()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkRejectedError);
    expect((error as SinkRejectedError).status).toBe(422);
    expect((error as SinkRejectedError).retryable).toBe(false);
    expect((error as Error).message).toBe(`${server.url}/ rejected batch b1: HTTP 422: unknown student S9`);
    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('truncates a long plain-text message', async () => {
    server = await startServer(script({ status: 400, body: `bad\n${'x'.repeat(5000)}` }));
    const error = (await sinkFor(server.url).sink.deliver(batch()).catch((e: unknown) => e)) as Error;
    const message = error.message.slice(error.message.indexOf('HTTP 400: ') + 'HTTP 400: '.length);
    expect(message).toHaveLength(500);
    expect(message.startsWith('bad xxx')).toBe(true);
    expect(message.endsWith('…')).toBe(true);
  });

  it('retries network errors, then fails after the bound', async () => {
    const port = await closedPort();
    const { sink, sleeps } = sinkFor(`http://127.0.0.1:${port}/grades`, { maxAttempts: 3 });
    const error = await sink.deliver(batch()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkUnavailableError);
    expect((error as SinkUnavailableError).attempts).toBe(3);
    expect((error as SinkUnavailableError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/not delivered after 3 attempts: .*ECONNREFUSED/);
    expect(sleeps).toEqual([100, 200]);
  });

  it("fails at once, as refused, when the endpoint's certificate is not trusted (nothing reached it)", async () => {
    let calls = 0;
    const { sink, sleeps } = sinkFor('https://sis.example.edu/grades', {
      fetch: async () => {
        calls += 1;
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) });
      },
    });
    const error = await sink.deliver(batch()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkRejectedError);
    expect((error as Error).message).toMatch(/TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\); for a private CA set NODE_EXTRA_CA_CERTS/);
    expect([calls, sleeps]).toEqual([1, []]);
  });

  it('gives up on 5xx after the bound', async () => {
    server = await startServer(script({ status: 503, body: '{"error":{"message":"down for maintenance"}}' }));
    const error = await sinkFor(server.url, { maxAttempts: 2 }).sink.deliver(batch()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkUnavailableError);
    expect((error as Error).message).toMatch(/after 2 attempts: HTTP 503: down for maintenance$/);
  });

  it('sends URL credentials as Basic auth and never shows them', async () => {
    server = await startServer(script({ status: 200 }));
    const { sink } = sinkFor(`http://sis:p%40ss@127.0.0.1:${server.port}/in`);
    expect(sink.target).toBe(`${server.url}/in`);
    const delivery = await sink.deliver(batch());
    expect(delivery.location).toBe(`${server.url}/in`);
    expect(server.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('sis:p@ss').toString('base64')}`);
  });

  it('does not follow redirects', async () => {
    server = await startServer(script({ status: 307, headers: { location: 'https://elsewhere.example/' } }));
    await expect(sinkFor(server.url).sink.deliver(batch())).rejects.toBeInstanceOf(SinkRejectedError);
    expect(server.requests).toHaveLength(1);
  });
});
