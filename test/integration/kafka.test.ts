import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AvroDecoder } from '../../src/intake/avro.js';
import { createLogger } from '../../src/log.js';
import { intakeMetrics, Registry } from '../../src/metrics.js';
import { ingest } from '../../src/sources/ingest.js';
import { kafkajsClient } from '../../src/sources/kafka-client.js';
import { KafkaSource, type KafkaSourceOptions } from '../../src/sources/kafka.js';
import { openStore } from '../../src/state/store.js';
import { committedEverything, createTopics, kafka, kafkaBrokers, producer, uniqueName, waitFor } from '../support/brokers.js';
import { buildCli } from '../support/build.js';
import { eventLines, gradeChange, line } from '../support/grades.js';
import { openTestStore, sqlite, type TestStore } from '../support/stores.js';
import { wrapStore } from '../support/stores-wrapped.js';

/**
 * The Kafka source against a real broker (scripts/services/kafka.sh): each test on its own topics
 * and consumer group, deleted afterwards. All Kafka tests live in this one file because one of them
 * restarts the broker: vitest runs the tests of a file one after another, so no other Kafka test is
 * running then.
 */

const log = createLogger(process.env['GRADESTREAM_TEST_LOG_LEVEL'] ?? 'silent');
const root = new URL('../../', import.meta.url).pathname;
let k: ReturnType<typeof kafka>;
let admin: Admin;
let prod: Producer;
let avro: AvroDecoder;
const topics: string[] = [];
const groups: string[] = [];
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  k = kafka();
  admin = k.admin();
  await admin.connect();
  prod = await producer(k);
  avro = await AvroDecoder.load();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
afterAll(async () => {
  if (admin !== undefined) {
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
  await prod?.disconnect();
});

async function topic(partitions = 3): Promise<string> {
  const name = uniqueName('gs-test');
  topics.push(name);
  await createTopics(admin, [name], partitions);
  return name;
}

function group(): string {
  const name = uniqueName('gs-group');
  groups.push(name);
  return name;
}

async function store(): Promise<TestStore> {
  const t = await openTestStore(sqlite);
  cleanups.push(() => t.cleanup());
  return t;
}

function source(options: Partial<KafkaSourceOptions> & Pick<KafkaSourceOptions, 'store' | 'topics' | 'groupId'>): KafkaSource {
  const s = new KafkaSource({
    log,
    client: kafkajsClient({ brokers: kafkaBrokers(), clientId: 'gradestream-test', log }),
    avro,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    maxWaitTimeMs: 1_000,
    backoff: { initialMs: 100, maxMs: 2_000 },
    ...options,
  });
  cleanups.push(() => s.stop());
  return s;
}

/** Produces the values in order, spread over the partitions (keyed by index). */
async function produce(name: string, values: readonly (string | Buffer | null)[]): Promise<void> {
  for (let i = 0; i < values.length; i += 1000) {
    const chunk = values.slice(i, i + 1000);
    await prod.send({ topic: name, acks: -1, messages: chunk.map((value, j) => ({ key: `k${i + j}`, value })) });
  }
}

/** The Canvas JSON of an event in the Confluent wire format, with the schema of its kind. */
function avroOf(text: string): Buffer {
  const event = JSON.parse(text) as { metadata: { event_name?: string }; body: Record<string, unknown> };
  const id = 'override_score' in event.body ? 4 : event.metadata.event_name === 'course_grade_change' ? 3 : 2;
  return avro.encode(id, event);
}

/** The fold of the same events directly (no Kafka): the state part of the dump only. */
async function referenceState(texts: readonly string[]): Promise<string> {
  const t = await store();
  await ingest(t.store, texts.map((text, i) => ({ text, source: 'replay', position: `ref:${i}` })));
  return stateOf(await t.store.dump());
}

const stateOf = (dump: string): string => dump.slice(0, dump.indexOf('# quarantine'));

function shuffle<T>(items: T[], seed = 11): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Invalid records of every kind a Kafka topic can carry, and the reason each must be quarantined with. */
function poisonRecords(): { value: string | Buffer | null; reason: string }[] {
  const wrongSchema = Buffer.from([0, 0, 0, 0, 99, 1, 2, 3]);
  const truncated = avroOf(eventLines(1)[0]!).subarray(0, 20);
  const noOffset = avroOf(line(gradeChange('2020-01-01T00:00:00', { assignment_id: '21070000000005555' })));
  return [
    { value: 'not json', reason: 'malformed_json' },
    { value: line(gradeChange('2020-01-01T00:00:00Z', { score: 'lots' })), reason: 'invalid_field' },
    { value: JSON.stringify({ hello: 'world' }), reason: 'not_an_event' },
    { value: wrongSchema, reason: 'invalid_avro' },
    { value: truncated, reason: 'invalid_avro' },
    { value: noOffset, reason: 'timestamp_without_offset' },
    { value: null, reason: 'not_an_event' },
  ];
}

/** The first `count` records of a dead-letter topic, with their headers as text. */
async function deadLetters(dlq: string, count: number): Promise<{ value: Buffer | null; headers: Record<string, string> }[]> {
  const reader = k.consumer({ groupId: group() });
  cleanups.push(() => reader.disconnect());
  await reader.connect();
  await reader.subscribe({ topic: dlq, fromBeginning: true });
  const dead: { value: Buffer | null; headers: Record<string, string> }[] = [];
  await reader.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([h, v]) => [h, String(v)]));
      dead.push({ value: message.value, headers });
    },
  });
  await waitFor('the dead letters', () => dead.length >= count, 30_000);
  return dead;
}

describe('KafkaSource on a real broker', () => {
  it('folds JSON and Avro values; duplicates and reordering change nothing; offsets and lag follow', async () => {
    const name = await topic(3);
    const groupId = group();
    const events = eventLines(900);
    const values = shuffle([...events, ...events.filter((_, i) => i % 3 === 0)]).map((text, i) => (i % 2 === 0 ? avroOf(text) : text));
    await produce(name, values);
    const t = await store();
    const registry = new Registry();
    const s = source({ store: t.store, topics: [name], groupId, registry, metrics: intakeMetrics(registry), subBatchSize: 100 });
    await s.start();
    await waitFor('every record to be folded and committed', async () => s.totals.received >= values.length && (await committedEverything(admin, groupId, name)));

    expect(s.totals.received).toBe(values.length);
    expect(s.totals.quarantined).toBe(0);
    expect(stateOf(await t.store.dump())).toBe(await referenceState(events));
    const lag = await registry.getSingleMetric('gradestream_kafka_consumer_lag')!.get();
    expect(lag.values.map((v) => [v.labels['topic'], v.labels['partition'], v.value]).sort()).toEqual([
      [name, '0', 0],
      [name, '1', 0],
      [name, '2', 0],
    ]);
    expect(await registry.metrics()).toMatch(/gradestream_events_total\{source="kafka",event="grade_change",outcome="applied"\} \d+/);

    // More records after a graceful stop and a restart: the group carries on from its commits.
    await s.stop();
    const more = eventLines(1200).slice(900);
    await produce(name, more);
    const again = source({ store: t.store, topics: [name], groupId });
    await again.start();
    await waitFor('the new records', async () => again.totals.received >= more.length && (await committedEverything(admin, groupId, name)));
    expect(again.totals.received).toBe(more.length);
    expect(stateOf(await t.store.dump())).toBe(await referenceState([...events, ...more]));
  });

  it('quarantines poison records (JSON, Avro, tombstones) and still commits their offsets', async () => {
    const name = await topic(2);
    const groupId = group();
    const poison = poisonRecords();
    const good = eventLines(40);
    await produce(name, shuffle([...good, ...poison.map((p) => p.value)], 5));
    const t = await store();
    const s = source({ store: t.store, topics: [name], groupId });
    await s.start();
    const total = good.length + poison.length;
    await waitFor('every record to be folded and committed', async () => s.totals.received >= total && (await committedEverything(admin, groupId, name)));

    expect(s.totals).toMatchObject({ received: total, quarantined: poison.length });
    const quarantined = await t.store.listQuarantine({ limit: 100 });
    expect(quarantined.map((q) => q.reason).sort()).toEqual(poison.map((p) => p.reason).sort());
    for (const q of quarantined) {
      expect(q.source).toBe('kafka');
      expect(q.position).toMatch(new RegExp(`^${name}/[01]/\\d+$`));
    }
    // Raw text: JSON as sent; undecodable Avro in base64; decodable Avro as its JSON, said so in the detail.
    const raw = (reason: string) => quarantined.filter((q) => q.reason === reason);
    expect(raw('malformed_json')[0]!.raw).toBe('not json');
    expect(raw('invalid_avro').map((q) => q.raw).sort()).toEqual(
      [poison[3]!.value as Buffer, poison[4]!.value as Buffer].map((b) => b.toString('base64')).sort(),
    );
    expect(raw('invalid_avro')[0]!.detail).toMatch(/\(raw: the Kafka value in base64\)$/);
    const fromAvro = raw('timestamp_without_offset')[0]!;
    expect(JSON.parse(fromAvro.raw)).toMatchObject({ metadata: { event_time: '2020-01-01T00:00:00' } });
    expect(fromAvro.detail).toMatch(/\(raw: the Avro value, schema id 2, as JSON\)$/);
    expect(stateOf(await t.store.dump())).toBe(await referenceState(good));
  });

  it('forwards quarantined records to the dead-letter topic when one is configured', async () => {
    const [name, dlq] = [await topic(2), await topic(1)];
    const groupId = group();
    const poison = poisonRecords();
    await produce(name, [...eventLines(10), ...poison.map((p) => p.value)]);
    const t = await store();
    const registry = new Registry();
    const s = source({ store: t.store, topics: [name], groupId, dlqTopic: dlq, registry });
    await s.start();
    const total = 10 + poison.length;
    await waitFor('every record to be folded and committed', async () => s.totals.received >= total && (await committedEverything(admin, groupId, name)));

    const dead = await deadLetters(dlq, poison.length);

    expect(dead).toHaveLength(poison.length);
    const asText = (v: string | Buffer | null) => (v === null ? null : Buffer.from(v).toString('base64'));
    expect(dead.map((d) => asText(d.value)).sort()).toEqual(poison.map((p) => asText(p.value)).sort());
    expect(dead.map((d) => d.headers['gradestream-reason']).sort()).toEqual(poison.map((p) => p.reason).sort());
    const quarantined = await t.store.listQuarantine({ limit: 100 });
    expect(dead.map((d) => d.headers['gradestream-source']).sort()).toEqual(quarantined.map((q) => q.position).sort());
    expect(dead.every((d) => (d.headers['gradestream-detail'] ?? '').length > 0)).toBe(true);
    const forwarded = await registry.getSingleMetric('gradestream_kafka_dead_lettered_total')!.get();
    expect(forwarded.values[0]).toMatchObject({ labels: { topic: name }, value: poison.length });
  });

  it('a poison message in the middle of a partition: the partition moves on, innocents folded, the poison quarantined', async () => {
    const [name, dlq] = [await topic(1), await topic(1)];
    const groupId = group();
    const events = eventLines(60);
    const storePoison = line(gradeChange('2021-02-03T04:05:06Z', { assignment_id: '21070000000066666' }));
    const deep = line(gradeChange('2021-02-03T04:05:06Z', { score: 1 })).replace('"score":1', `"score":${'['.repeat(5000)}1${']'.repeat(5000)}`);
    const badBytes = Buffer.concat([Buffer.from('{"metadata":{"event_name":"grade_change"},"body":{"grade":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]);
    await produce(name, [...events.slice(0, 30), storePoison, deep, badBytes, ...events.slice(30)]);
    const t = await store();
    const wrapped = wrapStore(t.store);
    wrapped.poison = (batch) => batch.records.some((r) => r.kind === 'grade_change' && r.assignment_id === '21070000000066666');
    const s = source({ store: wrapped, topics: [name], groupId, subBatchSize: 20, dlqTopic: dlq });
    await s.start();
    await waitFor('every record to be folded and committed', async () => (await committedEverything(admin, groupId, name)), 30_000);

    expect(s.totals).toMatchObject({ received: 63, quarantined: 3 });
    const quarantined = await t.store.listQuarantine({ limit: 100 });
    const offset = (q: { position: string }) => Number(q.position.split('/')[2]);
    quarantined.sort((a, b) => offset(a) - offset(b));
    expect(quarantined.map((q) => [q.position, q.reason])).toEqual([
      [`${name}/0/30`, 'internal_error'],
      [`${name}/0/31`, 'invalid_field'],
      [`${name}/0/32`, 'invalid_utf8'],
    ]);
    expect(Buffer.from(quarantined[2]!.raw_base64!, 'base64').equals(badBytes)).toBe(true);
    expect(stateOf(await t.store.dump())).toBe(await referenceState(events));
    // All three reach the dead-letter topic as they were produced, the store's victim too.
    const dead = await deadLetters(dlq, 3);
    expect(dead.map((d) => d.headers['gradestream-reason']).sort()).toEqual(['internal_error', 'invalid_field', 'invalid_utf8']);
    expect(dead.find((d) => d.headers['gradestream-reason'] === 'invalid_utf8')!.value!.equals(badBytes)).toBe(true);
  });

  it('pauses and re-reads a partition while the store is unavailable, committing nothing meanwhile', async () => {
    const name = await topic(1);
    const groupId = group();
    const events = eventLines(50);
    await produce(name, events);
    const t = await store();
    const flaky = wrapStore(t.store);
    flaky.failAlways(true);
    const s = source({ store: flaky, topics: [name], groupId, subBatchSize: 20 });
    await s.start();
    await waitFor('a few refused transactions', () => flaky.calls.length >= 3, 20_000);
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [name] });
    expect(offsets!.partitions[0]!.offset).toBe('-1'); // nothing committed while the store is down
    flaky.failAlways(false);
    await waitFor('every record to be folded and committed', async () => (await committedEverything(admin, groupId, name)), 20_000);
    expect(s.totals.received).toBe(events.length);
    expect(stateOf(await t.store.dump())).toBe(await referenceState(events));
  });

  it('resumes by itself after the broker restarts mid-consumption, and every event lands', async () => {
    const name = await topic(3);
    const groupId = group();
    const events = eventLines(8000);
    await produce(name, events.slice(0, 6000));
    const t = await store();
    const slow = wrapStore(t.store);
    // 60 transactions of 100 records, two at a time, 200 ms each: the restart falls in the middle.
    slow.delayMs = 200;
    const s = source({ store: slow, topics: [name], groupId, subBatchSize: 100, maxFoldMessages: 100 });
    await s.start();
    await waitFor('consumption to be under way', () => s.totals.received >= 500, 30_000, 5);

    await promisify(execFile)('bash', [join(root, 'scripts/services/kafka.sh'), 'restart'], { cwd: root, timeout: 180_000 });
    expect(s.totals.received).toBeLessThan(6000); // it was still consuming when the broker went away
    await produce(name, events.slice(6000));
    await waitFor(
      'every record to be folded and committed after the restart',
      async () => s.totals.received >= events.length && (await committedEverything(admin, groupId, name)),
      120_000,
      250,
    );
    expect(stateOf(await t.store.dump())).toBe(await referenceState(events));
  }, 300_000);
});

describe('a consumer process killed with SIGKILL mid-batch, then started again', () => {
  let build: Awaited<ReturnType<typeof buildCli>>;
  let runner: string;
  const dir = mkdtempSync(join(tmpdir(), 'gradestream-kafka-kill-'));
  beforeAll(async () => {
    build = await buildCli();
    // The built `consume` command, run directly (whether or not main.ts registers it).
    runner = join(dirname(build.runner), 'consume.mjs');
    // The built code finds the Avro schemas two levels up from dist/intake/, as in the package.
    symlinkSync(join(root, 'schemas'), join(dirname(build.runner), 'schemas'));
    writeFileSync(
      runner,
      `import { consume } from './dist/cli/consume.js';\nimport { processIo } from './dist/cli/io.js';\n` +
        `process.exitCode = await consume(process.argv[2], JSON.parse(process.argv[3]), processIo());\n`,
    );
  }, 180_000);
  afterAll(() => {
    build?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  function consumer(env: Record<string, string>, state: string) {
    const child = spawn(process.execPath, [runner, 'kafka', JSON.stringify({ json: true, state, sessionTimeout: '6000' })], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
    return { child, exited };
  }

  it('ends with every event folded and every invalid one quarantined, nothing lost', async () => {
    const name = await topic(3);
    const groupId = group();
    const events = eventLines(30_000);
    const poison = poisonRecords();
    // Poison spread through the topic.
    const values: (string | Buffer | null)[] = events.map((e, i) => (i % 3 === 0 ? avroOf(e) : e));
    poison.forEach((p, i) => values.splice(Math.floor(((i + 1) * values.length) / (poison.length + 1)), 0, p.value));
    await produce(name, values);

    const state = `sqlite:${join(dir, 'state.db')}`;
    const env = { GRADESTREAM_KAFKA_BROKERS: kafkaBrokers().join(','), GRADESTREAM_KAFKA_TOPICS: name, GRADESTREAM_KAFKA_GROUP_ID: groupId };
    const first = consumer(env, state);
    // Kill once some offsets are committed but not all: the process is in the middle of the topic.
    const high = (await admin.fetchTopicOffsets(name)).reduce((n, p) => n + Number(p.high), 0);
    let done = 0;
    await waitFor(
      'the first consumer to be part-way',
      async () => {
        const [c] = await admin.fetchOffsets({ groupId, topics: [name] });
        done = c!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
        return done > 0 && done < high * 0.6;
      },
      60_000,
      20,
    ).catch(async (err: Error) => {
      first.child.kill('SIGKILL');
      throw new Error(`${err.message} (committed ${done} of ${high}); consumer stderr: ${(await first.exited).stderr}`);
    });
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    expect(killed.signal).toBe('SIGKILL');

    const second = consumer(env, state);
    await waitFor('the second consumer to finish the topic', () => committedEverything(admin, groupId, name), 120_000, 250);
    second.child.kill('SIGTERM');
    const stopped = await second.exited;
    expect(stopped, stopped.stderr).toMatchObject({ code: 0, signal: null });
    const totals = JSON.parse(stopped.stdout) as { received: number };
    expect(totals.received).toBeGreaterThan(0);
    expect(totals.received).toBeLessThan(values.length); // it took over, not started over

    const s = await openStore(state);
    try {
      expect(stateOf(await s.dump())).toBe(await referenceState(events));
      const quarantined = await s.listQuarantine({ limit: 100 });
      expect(quarantined.map((q) => q.reason).sort()).toEqual(poison.map((p) => p.reason).sort());
    } finally {
      await s.close();
    }
  }, 300_000);
});
