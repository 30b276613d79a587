import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsEndpoint, uniqueName } from '../support/brokers.js';
import { openTestStore, sqlite, type TestStore } from '../support/stores.js';
import { A1, engine, fold, grade, S1 } from '../sync/world.js';

/** A sync delivered to S3 — moto's server, a real S3 API on loopback — exactly once in effect. */
describe('sync to an s3:// sink (moto)', () => {
  let t: TestStore;
  let s3: S3Client;
  let bucket: string;
  const saved = process.env['AWS_ENDPOINT_URL_S3'];

  beforeAll(async () => {
    const endpoint = awsEndpoint();
    process.env['AWS_ENDPOINT_URL_S3'] = endpoint; // what an operator sets for an S3-compatible store
    s3 = new S3Client({ endpoint, forcePathStyle: true });
    bucket = uniqueName('grades');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    t = await openTestStore(sqlite);
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env['AWS_ENDPOINT_URL_S3'];
    else process.env['AWS_ENDPOINT_URL_S3'] = saved;
    await t.cleanup();
    s3.destroy();
  });

  const read = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  const keys = async () => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();

  it('puts the batch at prefix/name, then a header-only batch when nothing changed', async () => {
    await fold(t.store, grade('2026-11-20T10:00:00Z', { assignment: A1, student: S1, score: 7, muted: false }));
    const e = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: Registrar}', `s3://${bucket}/sis/outbox`);
    const first = await e.runSchedule('nightly', { by: 'ada' });
    expect(first).toMatchObject({ status: 'succeeded', rows: 1 });
    expect(first.batch).toBe(`s3://${bucket}/sis/outbox/gradestream-${first.batch_id}.csv`);
    const csv = await read(`sis/outbox/gradestream-${first.batch_id}.csv`);
    expect(csv.split('\r\n')).toHaveLength(3); // header, one row, the final CRLF
    expect(csv).toContain(`,${A1},,7,`);

    const second = await e.runSchedule('nightly', { by: 'ada' });
    expect(second).toMatchObject({ status: 'succeeded', rows: 0 });
    expect(await read(`sis/outbox/gradestream-${second.batch_id}.csv`)).toBe(csv.split('\r\n')[0] + '\r\n');
    expect(await keys()).toHaveLength(2);
  });

  it('a missing bucket fails the run with the reason and acknowledges nothing', async () => {
    await fold(t.store, grade('2026-11-21T10:00:00Z', { assignment: A1, student: S1, score: 9, muted: false }));
    const broken = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: Registrar}', `s3://${uniqueName('absent')}/x`);
    const failed = await broken.runSchedule('nightly', { by: 'ada' });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/NoSuchBucket/);
    const e = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: Registrar}', `s3://${bucket}/sis/outbox`);
    const retried = await e.runSchedule('nightly', { by: 'ada' });
    expect(retried).toMatchObject({ status: 'succeeded', rows: 1 });
  });
});
