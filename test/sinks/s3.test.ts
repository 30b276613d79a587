import { afterEach, describe, expect, it } from 'vitest';
import { SinkRejectedError, SinkUnavailableError } from '../../src/sinks/errors.js';
import { csvChunks, encodeCsv } from '../../src/sinks/formats/index.js';
import { S3Sink } from '../../src/sinks/s3.js';
import type { Batch } from '../../src/sinks/types.js';
import { assignmentRow } from '../sync/rows.js';
import { startServer, type Reply, type TestServer } from './server.js';

/** The SDK against a local HTTP server speaking just enough S3 (path-style PutObject). */
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const CSV = Buffer.from(encodeCsv([assignmentRow()]));
const batch = (bytes: Batch['files'][number]['bytes'] = CSV): Batch => ({
  id: 'b1',
  files: [{ name: 'gradestream-b1.csv', contentType: 'text/csv', bytes }],
});

function sinkFor(url: string, prefix = 'sis/outbox') {
  return new S3Sink('grades', prefix, {
    clientConfig: {
      endpoint: url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    },
  });
}

const answer = (reply: Reply) => () => reply;

describe('s3 sink', () => {
  it('PUTs each file at prefix/name; the same batch twice writes the same key', async () => {
    server = await startServer(answer({ status: 200, headers: { etag: '"abc"' } }));
    const sink = sinkFor(server.url);
    const first = await sink.deliver(batch());
    const second = await sink.deliver(batch(csvChunks([assignmentRow()])));
    expect(first.location).toBe('s3://grades/sis/outbox/gradestream-b1.csv');
    expect(second.location).toBe(first.location);
    expect(server.requests.map((r) => `${r.method} ${r.url.split('?')[0]}`)).toEqual([
      'PUT /grades/sis/outbox/gradestream-b1.csv',
      'PUT /grades/sis/outbox/gradestream-b1.csv',
    ]);
    for (const request of server.requests) {
      expect(request.body.equals(CSV)).toBe(true);
      expect(request.headers['content-type']).toBe('text/csv');
      expect(request.headers['x-amz-meta-gradestream-batch-id']).toBe('b1');
    }
  });

  it('writes at the bucket root without a prefix', async () => {
    server = await startServer(answer({ status: 200 }));
    expect((await sinkFor(server.url, '').deliver(batch())).location).toBe('s3://grades/gradestream-b1.csv');
  });

  it('reports access denied as rejected and 503 as unavailable', async () => {
    const error = (code: string, message: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    server = await startServer(answer({ status: 403, body: error('AccessDenied', 'Access Denied'), headers: { 'content-type': 'application/xml' } }));
    const denied = await sinkFor(server.url).deliver(batch()).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(SinkRejectedError);
    expect((denied as Error).message).toMatch(/AccessDenied.*HTTP 403/);
    await server.close();

    server = await startServer(answer({ status: 503, body: error('SlowDown', 'Reduce your request rate'), headers: { 'content-type': 'application/xml' } }));
    await expect(sinkFor(server.url).deliver(batch())).rejects.toBeInstanceOf(SinkUnavailableError);
  });
});
