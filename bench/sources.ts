import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type DeleteMessageBatchCommandOutput,
  type ReceiveMessageCommandOutput,
} from '@aws-sdk/client-sqs';
import kafkajs from 'kafkajs';
import { AvroDecoder } from '../src/intake/avro.js';
import { createLogger } from '../src/log.js';
import { kafkajsClient, type BatchContext, type KafkaClientPort } from '../src/sources/kafka-client.js';
import { KAFKA_DEFAULTS, KafkaSource, type KafkaSourceOptions } from '../src/sources/kafka.js';
import { ingest } from '../src/sources/ingest.js';
import { SQS_DEFAULTS, SqsSource, type SqsClientLike } from '../src/sources/sqs.js';
import { openStore } from '../src/state/store.js';
import { generateEvents } from './generate.js';
import type { Result } from './measure.js';

/**
 * The live sources end to end — consume, intake, fold into SQLite, commit (Kafka) or delete (SQS) —
 * side by side in one run with a bare consume loop on the same broker that only counts (kafkajs
 * eachBatch with its default auto-commit; SQS receive + DeleteMessageBatch with as many pollers).
 * Each contender's rate runs from its first received record to the last one committed or deleted;
 * contenders alternate over the rounds and each one's median is kept. Target: ≥ 0.8 of the bare loop.
 *
 *   GRADESTREAM_BENCH_KAFKA_BROKERS (else GRADESTREAM_TEST_KAFKA_BROKERS)  `bash scripts/services.sh up kafka`
 *   GRADESTREAM_BENCH_SQS_ENDPOINT  ElasticMQ (`bash scripts/services.sh up elasticmq`): moto is too slow for this
 *   GRADESTREAM_BENCH_SOURCES_EVENTS  events per run (200,000)
 *   GRADESTREAM_BENCH_SQS_POLLERS     pollers, both contenders (the source's default); a comma list compares several
 *   GRADESTREAM_BENCH_SOURCES         kafka,sqs (both)
 *   GRADESTREAM_BENCH_ROUNDS          rounds (3)
 */

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const log = createLogger('silent');
const now = () => process.hrtime.bigint();
const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}=${raw}: expected a positive integer`);
  return n;
}

function required(names: string[], start: string): string {
  for (const name of names) {
    const value = process.env[name];
    if (value) return value;
  }
  throw new Error(`bench sources: ${names.join(' or ')} is not set: start the server with \`${start}\` and \`eval "$(${start.replace(' up ', ' env ')})"\``);
}

interface Run {
  events: number;
  seconds: number;
  /** CPU time of this process over the timed span */
  cpuSeconds?: number;
}

/** Starts the clock (wall and this process's CPU) once; `stop` reads both. */
function clock() {
  let wall: bigint | undefined;
  let cpu: NodeJS.CpuUsage | undefined;
  let end: { seconds: number; cpuSeconds: number } | undefined;
  return {
    start() {
      if (wall !== undefined) return;
      wall = now();
      cpu = process.cpuUsage();
    },
    stop() {
      if (end !== undefined || wall === undefined) return;
      const used = process.cpuUsage(cpu);
      end = { seconds: seconds(wall, now()), cpuSeconds: (used.user + used.system) / 1e6 };
    },
    get result() {
      return end!;
    },
  };
}

interface Contender {
  name: string;
  run(): Promise<Run>;
}

/** Rounds of every contender in turn; each one's median rate. */
async function rounds(contenders: Contender[], count: number): Promise<Result[]> {
  const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 1; round <= count; round++) {
    for (const c of contenders) {
      const r = await c.run();
      rates.get(c.name)!.push(r.events / r.seconds);
      const cpu = r.cpuSeconds === undefined ? '' : ` (this process busy ${((100 * r.cpuSeconds) / r.seconds).toFixed(0)}% of the time)`;
      console.error(`bench sources: round ${round}: ${c.name}: ${fmt(r.events)} in ${r.seconds.toFixed(2)} s = ${fmt(r.events / r.seconds)}/s${cpu}`);
    }
  }
  return contenders.map((c) => {
    const sorted = rates.get(c.name)!.sort((a, b) => a - b);
    return { name: c.name, perSecond: sorted[Math.floor(sorted.length / 2)]! };
  });
}

/** A fresh SQLite state store for one run, removed afterwards. */
async function scratchStore() {
  const dir = mkdtempSync(join(tmpdir(), 'gradestream-bench-sources-'));
  const store = await openStore(`sqlite:${join(dir, 'gradestream.db')}`);
  return { store, remove: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
}

/**
 * The ceiling of any source: the same events folded straight from memory by `ingest`, `batch` per
 * transaction, into a fresh SQLite store; no broker at all.
 */
async function foldAlone(count: number, batch: number, source: 'kafka' | 'sqs'): Promise<Run> {
  const scratch = await scratchStore();
  try {
    const events = [...generateEvents({ count })];
    const time = clock();
    time.start();
    for (let i = 0; i < events.length; i += batch) {
      await ingest(scratch.store, events.slice(i, i + batch).map((text, j) => ({ text, source, position: String(i + j) })));
    }
    time.stop();
    return { events: count, ...time.result };
  } finally {
    await scratch.remove();
  }
}

/** Rates with their ratio to the bare loop (the target) and to the fold alone (the ceiling). */
function printSources(title: string, results: Result[], bare: string, fold: string): void {
  const of = (name: string) => results.find((r) => r.name === name)!.perSecond;
  console.log(`\n${title}`);
  console.log(`  ${'contender'.padEnd(52)} ${'events/s'.padStart(10)}   ${'vs bare loop'.padStart(12)}   ${'vs fold alone'.padStart(13)}`);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(52)} ${fmt(r.perSecond).padStart(10)}   ${(r.perSecond / of(bare)).toFixed(2).padStart(12)}   ${(r.perSecond / of(fold)).toFixed(2).padStart(13)}`,
    );
  }
}

// ---- Kafka --------------------------------------------------------------------------------------

async function produceTopic(k: kafkajs.Kafka, topic: string, count: number): Promise<void> {
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = k.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  let chunk: { key: string; value: string }[] = [];
  let i = 0;
  const sends: Promise<unknown>[] = [];
  for (const value of generateEvents({ count })) {
    chunk.push({ key: String(i++), value });
    if (chunk.length === 500) {
      sends.push(producer.send({ topic, acks: -1, messages: chunk }));
      chunk = [];
      if (sends.length >= 16) await Promise.all(sends.splice(0));
    }
  }
  if (chunk.length > 0) sends.push(producer.send({ topic, acks: -1, messages: chunk }));
  await Promise.all(sends);
  await producer.disconnect();
}

/** Source settings other than the defaults, to try some (GRADESTREAM_BENCH_KAFKA_SUB_BATCH, _CONCURRENCY, _MAX_BYTES). */
function tuning(): Partial<KafkaSourceOptions> {
  const env = (name: string) => (process.env[name] ? envNumber(name, 1) : undefined);
  const t: Partial<KafkaSourceOptions> = {};
  const sub = env('GRADESTREAM_BENCH_KAFKA_SUB_BATCH');
  const concurrency = env('GRADESTREAM_BENCH_KAFKA_CONCURRENCY');
  const bytes = env('GRADESTREAM_BENCH_KAFKA_MAX_BYTES');
  if (sub !== undefined) t.subBatchSize = sub;
  if (concurrency !== undefined) t.partitionsConsumedConcurrently = concurrency;
  if (bytes !== undefined) t.maxBytesPerPartition = bytes;
  return t;
}

/** kafkajs eachBatch that only counts (default auto-resolve and auto-commit after each batch). */
async function bareKafka(k: kafkajs.Kafka, topic: string, count: number, group: string): Promise<Run> {
  const consumer = k.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  const time = clock();
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      time.start();
      seen += batch.messages.length;
      if (seen >= count) {
        time.stop();
        finish();
      }
    },
  });
  await done;
  await consumer.disconnect();
  return { events: seen, ...time.result };
}

/** The client port with commits counted, to time the source until its last commit. */
function countingKafka(inner: KafkaClientPort, count: number, time: ReturnType<typeof clock>, finish: () => void): KafkaClientPort {
  return {
    producer: () => inner.producer(),
    consumer: (settings) => {
      const consumer = inner.consumer(settings);
      const committed = new Map<number, bigint>();
      return {
        connect: () => consumer.connect(),
        subscribe: (t, o) => consumer.subscribe(t, o),
        stop: () => consumer.stop(),
        disconnect: () => consumer.disconnect(),
        onCrash: (l) => consumer.onCrash(l),
        onAssignment: (l) => consumer.onAssignment(l),
        run: (options) =>
          consumer.run({
            ...options,
            eachBatch: (context) => {
              time.start();
              const counted: BatchContext = {
                batch: context.batch,
                resolveOffset: (o) => context.resolveOffset(o),
                heartbeat: () => context.heartbeat(),
                pause: () => context.pause(),
                isRunning: () => context.isRunning(),
                isStale: () => context.isStale(),
                commit: async (offset) => {
                  await context.commit(offset);
                  committed.set(context.batch.partition, BigInt(offset) + 1n);
                  let total = 0n;
                  for (const c of committed.values()) total += c;
                  if (total >= BigInt(count)) {
                    time.stop();
                    finish();
                  }
                },
              };
              return options.eachBatch(counted);
            },
          }),
      };
    },
  };
}

async function gradestreamKafka(brokers: string[], topic: string, count: number, group: string, avro: AvroDecoder): Promise<Run> {
  const scratch = await scratchStore();
  const time = clock();
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const client = countingKafka(kafkajsClient({ brokers, log }), count, time, finish);
  const source = new KafkaSource({ store: scratch.store, client, topics: [topic], groupId: group, log, avro, ...tuning() });
  try {
    await source.start();
    await done;
    return { events: source.totals.received, ...time.result };
  } finally {
    await source.stop();
    await scratch.remove();
  }
}

async function benchKafka(count: number, roundCount: number): Promise<void> {
  const brokers = required(['GRADESTREAM_BENCH_KAFKA_BROKERS', 'GRADESTREAM_TEST_KAFKA_BROKERS'], 'bash scripts/services.sh up kafka').split(',');
  const k = new kafkajs.Kafka({ clientId: 'gradestream-bench', brokers, logLevel: kafkajs.logLevel.NOTHING });
  const topic = `gs-bench-${Date.now().toString(36)}`;
  console.error(`bench sources: producing ${fmt(count)} events to Kafka topic ${topic} (3 partitions) …`);
  await produceTopic(k, topic, count);
  const avro = await AvroDecoder.load(new URL('../../schemas/', import.meta.url)); // from dist-bench/bench/
  let groups = 0;
  const group = () => `${topic}-g${groups++}`;
  try {
    const subBatch = tuning().subBatchSize ?? KAFKA_DEFAULTS.subBatchSize;
    const names = {
      bare: 'kafkajs eachBatch, counting only',
      source: 'KafkaSource → SQLite (fold + commit)',
      fold: `ingest → SQLite alone, ${subBatch}/transaction, no broker`,
    };
    const results = await rounds(
      [
        { name: names.bare, run: () => bareKafka(k, topic, count, group()) },
        { name: names.source, run: () => gradestreamKafka(brokers, topic, count, group(), avro) },
        { name: names.fold, run: () => foldAlone(count, subBatch, 'kafka') },
      ],
      roundCount,
    );
    printSources(`Kafka source, ${fmt(count)} events, 3 partitions (target: >= 0.80 of the bare loop)`, results, names.bare, names.fold);
  } finally {
    const admin = k.admin();
    await admin.connect();
    await admin.deleteGroups(Array.from({ length: groups }, (_, i) => `${topic}-g${i}`)).catch(() => undefined);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

// ---- SQS (ElasticMQ) ----------------------------------------------------------------------------

async function fillQueue(client: SQSClient, url: string, count: number): Promise<void> {
  const events = generateEvents({ count });
  const worker = async () => {
    for (;;) {
      const entries: { Id: string; MessageBody: string }[] = [];
      while (entries.length < 10) {
        const next = events.next();
        if (next.done) break;
        entries.push({ Id: String(entries.length), MessageBody: next.value });
      }
      if (entries.length === 0) return;
      const out = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
      if ((out.Failed ?? []).length > 0) throw new Error(`SendMessageBatch: ${JSON.stringify(out.Failed)}`);
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
}

async function withQueue<T>(client: SQSClient, count: number, work: (url: string) => Promise<T>): Promise<T> {
  const name = `gs-bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const { QueueUrl: url } = await client.send(new CreateQueueCommand({ QueueName: name }));
  try {
    await fillQueue(client, url!, count);
    return await work(url!);
  } finally {
    await client.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
  }
}

/** P pollers: ReceiveMessage (10, long poll) → DeleteMessageBatch, counting. */
async function bareSqs(client: SQSClient, url: string, count: number, pollers: number): Promise<Run> {
  let deleted = 0;
  const time = clock();
  const poller = async () => {
    while (deleted < count) {
      const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      time.start();
      const del = await client.send(
        new DeleteMessageBatchCommand({ QueueUrl: url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
      );
      deleted += del.Successful?.length ?? 0;
      if (deleted >= count) time.stop();
    }
  };
  await Promise.all(Array.from({ length: pollers }, poller));
  return { events: deleted, ...time.result };
}

async function gradestreamSqs(client: SQSClient, url: string, count: number, pollers: number): Promise<Run> {
  const scratch = await scratchStore();
  let deleted = 0;
  const time = clock();
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  // The real client, with receipts and deletes counted for the clock.
  const counting: SqsClientLike = {
    send: (async (command: object, options?: object) => {
      const out = await (client.send.bind(client) as (c: object, o?: object) => Promise<unknown>)(command, options);
      if (command instanceof ReceiveMessageCommand && ((out as ReceiveMessageCommandOutput).Messages ?? []).length > 0) time.start();
      if (command instanceof DeleteMessageBatchCommand) {
        deleted += (out as DeleteMessageBatchCommandOutput).Successful?.length ?? 0;
        if (deleted >= count) {
          time.stop();
          finish();
        }
      }
      return out;
    }) as SqsClientLike['send'],
  };
  const source = new SqsSource({ store: scratch.store, queueUrl: url, client: counting, log, pollers, waitTimeSeconds: 1, lagIntervalMs: 0 });
  try {
    await source.start();
    await done;
    return { events: deleted, ...time.result };
  } finally {
    await source.stop();
    await scratch.remove();
  }
}

async function benchSqs(count: number, roundCount: number): Promise<void> {
  const endpoint = required(['GRADESTREAM_BENCH_SQS_ENDPOINT'], 'bash scripts/services.sh up elasticmq');
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  const pollerCounts = (process.env['GRADESTREAM_BENCH_SQS_POLLERS'] ?? String(SQS_DEFAULTS.pollers)).split(',').map(Number);
  try {
    for (const pollers of pollerCounts) {
      if (!Number.isSafeInteger(pollers) || pollers < 1) throw new Error(`GRADESTREAM_BENCH_SQS_POLLERS: ${pollers} is not a positive integer`);
      console.error(`bench sources: SQS, ${pollers} pollers; each run fills a new queue with ${fmt(count)} events first (not timed) …`);
      const names = {
        bare: `receive + delete, counting only (${pollers} pollers)`,
        source: `SqsSource → SQLite (fold + delete, ${pollers} pollers)`,
        fold: 'ingest → SQLite alone, 10/transaction, no broker',
      };
      const results = await rounds(
        [
          { name: names.bare, run: () => withQueue(client, count, (url) => bareSqs(client, url, count, pollers)) },
          { name: names.source, run: () => withQueue(client, count, (url) => gradestreamSqs(client, url, count, pollers)) },
          { name: names.fold, run: () => foldAlone(count, 10, 'sqs') },
        ],
        roundCount,
      );
      printSources(`SQS source (ElasticMQ), ${fmt(count)} events, ${pollers} pollers (target: >= 0.80 of the bare loop)`, results, names.bare, names.fold);
    }
  } finally {
    client.destroy();
  }
}

export async function benchSources(): Promise<void> {
  const count = envNumber('GRADESTREAM_BENCH_SOURCES_EVENTS', 200_000);
  const roundCount = envNumber('GRADESTREAM_BENCH_ROUNDS', 3);
  const which = (process.env['GRADESTREAM_BENCH_SOURCES'] ?? 'kafka,sqs').split(',');
  if (which.includes('kafka')) await benchKafka(count, roundCount);
  if (which.includes('sqs')) await benchSqs(count, roundCount);
}
