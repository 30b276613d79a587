import type { SQSClient } from '@aws-sdk/client-sqs';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { intakeMetrics, Registry } from '../../src/metrics.js';
import { ingest, type Message } from '../../src/sources/ingest.js';
import { SqsSource, type SqsSourceOptions } from '../../src/sources/sqs.js';
import {
  createQueue,
  deleteQueue,
  messagesOnQueue,
  queueArn,
  sendAll,
  sqsClient,
  uniqueName,
  waitFor,
} from '../support/brokers.js';
import { eventLines, gradeChange, line } from '../support/grades.js';
import { openTestStore, sqlite, type TestStore } from '../support/stores.js';
import { wrapStore } from '../support/stores-wrapped.js';

/**
 * The SQS source against a real SQS API (moto): each test on its own queue, removed afterwards.
 * Nothing here is faked: a "store that fails" is the real store behind a wrapper that refuses the
 * first transactions, as a store that is down does.
 */

const log = createLogger(process.env['GRADESTREAM_TEST_LOG_LEVEL'] ?? 'silent');
let client: SQSClient;
const queues: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  client = sqsClient();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(async () => {
  for (const q of queues) await deleteQueue(client, q);
  client?.destroy();
});

async function queue(attributes: Record<string, string> = {}): Promise<string> {
  const url = await createQueue(client, uniqueName('gs-test'), attributes);
  queues.push(url);
  return url;
}

async function store(): Promise<TestStore> {
  const t = await openTestStore(sqlite);
  cleanups.push(() => t.cleanup());
  return t;
}

/** A source with test-friendly timings (short long polls, quick backoff), stopped after the test. */
function source(options: Partial<SqsSourceOptions> & Pick<SqsSourceOptions, 'store' | 'queueUrl'>): SqsSource {
  const s = new SqsSource({ log, client, waitTimeSeconds: 1, pollers: 2, backoff: { initialMs: 100, maxMs: 1000 }, ...options });
  cleanups.push(() => s.stop());
  return s;
}

/** The state the same messages give when folded directly, in one batch, in sending order. */
async function reference(messages: Message[]): Promise<string> {
  const t = await store();
  await ingest(t.store, messages);
  return t.store.dump();
}

const drained = (url: string, s: SqsSource, received: number) => async () =>
  s.totals.received >= received && (await messagesOnQueue(client, url)) === 0;

function shuffle<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('SqsSource on a real queue (moto)', () => {
  it('folds every produced event; duplicates and reordering change nothing', async () => {
    const url = await queue();
    const events = eventLines(240);
    // Every event once, a quarter of them again, all shuffled.
    const bodies = shuffle([...events, ...events.filter((_, i) => i % 4 === 0)]);
    await sendAll(client, url, bodies);
    const t = await store();
    const registry = new Registry();
    const s = source({ store: t.store, queueUrl: url, registry, metrics: intakeMetrics(registry), lagIntervalMs: 200 });
    await s.start();
    await waitFor('the queue to be drained', drained(url, s, bodies.length));

    // At least once: SQS (and moto) may deliver a message twice, which folds as a duplicate.
    expect(s.totals.received).toBeGreaterThanOrEqual(bodies.length);
    expect(s.totals.quarantined).toBe(0);
    expect(await t.store.dump()).toBe(await reference(events.map((text, i) => ({ text, source: 'replay', position: `events:${i}` }))));

    // Consumer lag is exported with the queue's name, not its URL.
    const name = url.split('/').at(-1)!;
    await waitFor('a lag sample of the empty queue', async () => {
      const lag = await registry.getSingleMetric('gradestream_sqs_approximate_messages')!.get();
      return lag.values.some((v) => v.labels['queue'] === name && v.labels['state'] === 'visible' && v.value === 0);
    });
    const text = await registry.metrics();
    expect(text).toContain(`gradestream_sqs_approximate_messages{queue="${name}",state="not_visible"}`);
    expect(text).not.toContain('123456789012');
    expect(text).toMatch(/gradestream_events_total\{source="sqs",event="grade_change",outcome="applied"\} \d+/);
  });

  it('quarantines and deletes poison messages without holding up the rest', async () => {
    const url = await queue();
    const good = eventLines(30);
    const poison = [
      'not json at all',
      '{"metadata": {"event_name": "grade_change"}',
      line(gradeChange('2020-01-01T00:00:00Z', { score: 'lots' })),
      line(gradeChange('2020-01-01T00:00:00', { assignment_id: '21070000000009999' })),
      JSON.stringify({ hello: 'world' }),
    ];
    const sent = await sendAll(client, url, shuffle([...good, ...poison], 3));
    const t = await store();
    const s = source({ store: t.store, queueUrl: url });
    await s.start();
    await waitFor('the queue to be drained', drained(url, s, sent.length));

    expect(s.totals.received).toBeGreaterThanOrEqual(sent.length);
    const quarantined = await t.store.listQuarantine({ limit: 100 });
    const idOf = new Map(sent.map((m) => [m.text, m.id]));
    expect(quarantined.map((q) => [q.source, q.position, q.raw]).sort()).toEqual(
      poison.map((p) => ['sqs', idOf.get(p), p]).sort(),
    );
    expect(quarantined.map((q) => q.reason).sort()).toEqual(
      ['invalid_field', 'malformed_json', 'malformed_json', 'not_an_event', 'timestamp_without_offset'].sort(),
    );
    // Exactly what folding the same messages directly gives (state and quarantine alike).
    expect(await t.store.dump()).toBe(await reference(sent.map((m) => ({ text: m.text, source: 'sqs', position: m.id }))));
  });

  it('a poison message in the middle of the stream: its batch\'s innocents are folded and deleted, the poison quarantined', async () => {
    const url = await queue({ VisibilityTimeout: '2' });
    const events = eventLines(40);
    // One the store fails on (not a passing failure: this message's doing), one intake used to crash on.
    const storePoison = line(gradeChange('2021-02-03T04:05:06Z', { assignment_id: '21070000000066666' }));
    const deep = line(gradeChange('2021-02-03T04:05:06Z', { score: 1 })).replace('"score":1', `"score":${'['.repeat(5000)}1${']'.repeat(5000)}`);
    const sent = await sendAll(client, url, [...events.slice(0, 20), storePoison, deep, ...events.slice(20)]);
    const t = await store();
    const wrapped = wrapStore(t.store);
    wrapped.poison = (batch) => batch.records.some((r) => r.kind === 'grade_change' && r.assignment_id === '21070000000066666');
    const s = source({ store: wrapped, queueUrl: url, pollers: 1, maxMessages: 10 });
    await s.start();
    await waitFor('the queue to be drained', drained(url, s, sent.length), 30_000);

    const quarantined = await t.store.listQuarantine({ limit: 100 });
    const idOf = new Map(sent.map((m) => [m.text, m.id]));
    expect(quarantined.map((q) => [q.position, q.reason])).toEqual(
      expect.arrayContaining([[idOf.get(storePoison), 'internal_error'], [idOf.get(deep), 'invalid_field']]),
    );
    expect(quarantined).toHaveLength(2);
    expect(quarantined.find((q) => q.reason === 'internal_error')!.raw).toBe(storePoison);
    // Every innocent message folded: the state of the events alone.
    const state = (dump: string) => dump.slice(0, dump.indexOf('# quarantine'));
    expect(state(await t.store.dump())).toBe(state(await reference(events.map((text, i) => ({ text, source: 'replay', position: `e:${i}` })))));
  });

  it('deletes nothing when the store is unavailable: the messages come back and then fold', async () => {
    const url = await queue({ VisibilityTimeout: '1' });
    const events = eventLines(12);
    const sent = await sendAll(client, url, events);
    const t = await store();
    const flaky = wrapStore(t.store);
    flaky.fail(2); // the first two transactions fail, whatever they hold
    const s = source({ store: flaky, queueUrl: url, pollers: 1, maxMessages: 10 });
    await s.start();
    await waitFor('the queue to be drained', drained(url, s, sent.length), 30_000);

    expect(flaky.calls.length).toBeGreaterThanOrEqual(3);
    // Had a failed batch been deleted, its events would be missing from the state.
    expect(await t.store.dump()).toBe(await reference(sent.map((m) => ({ text: m.text, source: 'sqs', position: m.id }))));
    expect(s.totals.received).toBeGreaterThanOrEqual(sent.length); // failed attempts count nothing
  });

  it('works normally on a queue with a redrive policy; a message the store keeps refusing reaches the DLQ', async () => {
    const dlq = await queue();
    const redrive = JSON.stringify({ deadLetterTargetArn: await queueArn(client, dlq), maxReceiveCount: 2 });
    const url = await queue({ VisibilityTimeout: '1', RedrivePolicy: redrive });
    const sent = await sendAll(client, url, [...eventLines(25), 'poison']);
    const t = await store();
    const flaky = wrapStore(t.store);
    const s = source({ store: flaky, queueUrl: url });
    await s.start();
    await waitFor('the queue to be drained', drained(url, s, sent.length));
    expect(s.totals.received).toBeGreaterThanOrEqual(sent.length);
    expect(await messagesOnQueue(client, dlq)).toBe(0); // nothing was redriven: all deleted after folding
    expect(await t.store.dump()).toBe(await reference(sent.map((m) => ({ text: m.text, source: 'sqs', position: m.id }))));

    // The store goes down for good: the message is received, not deleted, received again… until
    // SQS moves it to the dead-letter queue after maxReceiveCount receives.
    flaky.failAlways(true);
    const [late] = await sendAll(client, url, [line(gradeChange('2021-03-04T05:06:07Z', { assignment_id: '21070000000077777' }))]);
    await waitFor('the refused message to reach the DLQ', async () => (await messagesOnQueue(client, dlq)) === 1, 30_000);
    const out = await client.send(new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 1 }));
    expect(out.Messages?.[0]).toMatchObject({ MessageId: late!.id, Body: late!.text });
    expect(flaky.calls.length).toBeGreaterThan(2);
  });

  it('extends the visibility of a batch that takes longer than its visibility timeout', async () => {
    const url = await queue({ VisibilityTimeout: '2' });
    const t = await store();
    const slow = wrapStore(t.store);
    slow.delayMs = 5000; // the transaction takes 2.5 visibility timeouts
    const registry = new Registry();
    const s = source({ store: slow, queueUrl: url, pollers: 1, heartbeatSeconds: 1, registry });
    await s.start();
    await sendAll(client, url, [line(gradeChange('2021-01-01T00:00:00Z'))]);
    await waitFor('the message to be in flight', () => slow.calls.length === 1, 10_000, 20);
    // Had its visibility lapsed (after 2 s), another consumer would receive it now.
    for (const at of [2500, 4000]) {
      await new Promise((r) => setTimeout(r, at === 2500 ? 2500 : 1500));
      const peek = await client.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0, WaitTimeSeconds: 0 }));
      expect(peek.Messages ?? [], `received by another consumer ${at} ms into the batch`).toEqual([]);
    }
    await waitFor('the message to be folded and deleted', drained(url, s, 1), 20_000);

    expect(slow.calls).toHaveLength(1);
    expect(s.totals).toMatchObject({ received: 1, applied: 1 });
    const extensions = await registry.getSingleMetric('gradestream_sqs_visibility_extensions_total')!.get();
    expect(extensions.values[0]!.value).toBeGreaterThanOrEqual(3);
  });

  it('stops at once while long polling, and finishes a batch in flight before stopping', async () => {
    const t = await store();
    const idle = source({ store: t.store, queueUrl: await queue(), waitTimeSeconds: 20, pollers: 3 });
    await idle.start();
    await new Promise((r) => setTimeout(r, 300));
    let started = Date.now();
    await idle.stop();
    expect(Date.now() - started).toBeLessThan(2000); // the 20 s long polls were cut short

    // (A new queue: a long poll abandoned by the client may still take the next messages on the
    // server, which then come back only after their visibility timeout.)
    const url = await queue();
    const slow = wrapStore(t.store);
    slow.delayMs = 1500;
    const busy = source({ store: slow, queueUrl: url, pollers: 1, maxMessages: 10 });
    await busy.start();
    await sendAll(client, url, eventLines(5));
    await waitFor('a batch to be in flight', () => slow.calls.length > 0, 25_000, 20);
    started = Date.now();
    await busy.stop();
    expect(Date.now() - started).toBeGreaterThan(500); // it waited for the transaction
    expect(busy.totals.received).toBeGreaterThan(0);
    await waitFor('the folded batch to be deleted', async () => (await messagesOnQueue(client, url)) === 5 - busy.totals.received);
  });
});
