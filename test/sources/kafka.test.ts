import { Registry } from 'prom-client';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { AvroDecoder } from '../../src/intake/avro.js';
import { createLogger } from '../../src/log.js';
import type {
  BatchContext,
  ConsumerSettings,
  KafkaBatch,
  KafkaClientPort,
  KafkaConsumerPort,
  KafkaProducerPort,
  ProducedRecord,
} from '../../src/sources/kafka-client.js';
import { KafkaSource } from '../../src/sources/kafka.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import { eventLines } from '../support/grades.js';
import { wrapStore, type WrappedStore } from '../support/stores-wrapped.js';

/**
 * The Kafka source through its client port, with a scripted client: the order of fold, resolve,
 * commit and heartbeat, and what happens when the fold fails. Against a real broker:
 * test/integration/kafka.test.ts.
 */

const log = createLogger('silent');

class ScriptedKafka implements KafkaClientPort {
  steps: string[] = [];
  produced: { topic: string; records: readonly ProducedRecord[] }[] = [];
  eachBatch: ((context: BatchContext) => Promise<void>) | undefined;
  settings: ConsumerSettings | undefined;
  crash: ((e: { error: Error; restart: boolean }) => void) | undefined;
  consumersMade = 0;

  consumer(settings: ConsumerSettings): KafkaConsumerPort {
    this.settings = settings;
    this.consumersMade += 1;
    return {
      connect: async () => void this.steps.push('connect'),
      subscribe: async (topics) => void this.steps.push(`subscribe ${topics.join(',')}`),
      run: async (options) => {
        this.eachBatch = options.eachBatch;
        this.steps.push('run');
      },
      stop: async () => void this.steps.push('stop'),
      disconnect: async () => void this.steps.push('disconnect'),
      onCrash: (listener) => (this.crash = listener),
      onAssignment: () => undefined,
    };
  }

  producer(): KafkaProducerPort {
    return {
      connect: async () => undefined,
      send: async (topic, records) => void this.produced.push({ topic, records }),
      disconnect: async () => undefined,
    };
  }

  /** Hands a batch to the source as the client would, recording what the source does with it. */
  async deliver(batch: KafkaBatch): Promise<void> {
    const context: BatchContext = {
      batch,
      resolveOffset: (offset) => void this.steps.push(`resolve ${offset}`),
      commit: async (offset) => void this.steps.push(`commit ${offset}`),
      heartbeat: async () => void this.steps.push('heartbeat'),
      pause: () => {
        this.steps.push('pause');
        return () => this.steps.push('resume');
      },
      isRunning: () => true,
      isStale: () => false,
    };
    await this.eachBatch!(context);
  }
}

const batchOf = (values: (string | Buffer | null)[], first = 0): KafkaBatch => ({
  topic: 'events',
  partition: 1,
  highWatermark: String(first + values.length + 10),
  messages: values.map((v, i) => ({ offset: String(first + i), key: null, value: typeof v === 'string' ? Buffer.from(v) : v })),
});

describe('KafkaSource through its client port', () => {
  let avro: AvroDecoder;
  let store: StateStore;
  let wrapped: WrappedStore;
  let kafka: ScriptedKafka;
  let source: KafkaSource | undefined;
  beforeAll(async () => {
    avro = await AvroDecoder.load();
  });
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    wrapped = wrapStore(store);
    kafka = new ScriptedKafka();
  });
  afterEach(async () => {
    await source?.stop();
    await store.close();
  });

  async function started(
    options: { dlqTopic?: string; subBatchSize?: number; maxFoldMessages?: number; registry?: Registry } = {},
  ): Promise<KafkaSource> {
    source = new KafkaSource({ store: wrapped, client: kafka, topics: ['events'], groupId: 'g', log, avro, backoff: { initialMs: 10, maxMs: 20 }, ...options });
    await source.start();
    kafka.steps = [];
    return source;
  }

  it('hands a fetched batch to the fold at once, then resolves, commits and heartbeats each sub-batch in order', async () => {
    const s = await started({ subBatchSize: 2 });
    const events = eventLines(5);
    const calls: number[] = [];
    const apply = wrapped.apply.bind(wrapped);
    wrapped.apply = async (batch) => {
      kafka.steps.push(`fold ${batch.records.length}`);
      calls.push(batch.records.length);
      return apply(batch);
    };
    await kafka.deliver(batchOf(events, 100));
    // The three sub-batches wait together and share one transaction; nothing is resolved before it.
    expect(kafka.steps).toEqual([
      'fold 5',
      'resolve 101', 'commit 101', 'heartbeat',
      'resolve 103', 'commit 103', 'heartbeat',
      'resolve 104', 'commit 104', 'heartbeat',
    ]);
    expect(s.totals.received).toBe(5);
  });

  it('commits a sub-batch only after its own transaction, when sub-batches do not share one', async () => {
    await started({ subBatchSize: 2, maxFoldMessages: 2 });
    const apply = wrapped.apply.bind(wrapped);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    wrapped.apply = async (batch) => {
      kafka.steps.push(`fold ${batch.records.length}`);
      if (kafka.steps.filter((x) => x.startsWith('fold')).length === 2) await held; // the second transaction is slow
      return apply(batch);
    };
    const delivered = kafka.deliver(batchOf(eventLines(4), 100));
    await new Promise((r) => setTimeout(r, 30));
    // The first sub-batch is committed; the second, still in its transaction, is not.
    expect([...kafka.steps].sort()).toEqual(['commit 101', 'fold 2', 'fold 2', 'heartbeat', 'resolve 101']);
    release();
    await delivered;
    expect(kafka.steps.slice(5)).toEqual(['resolve 103', 'commit 103', 'heartbeat']);
  });

  it('on a failed fold: no resolve, no commit; the partition is paused, then resumed after a backoff', async () => {
    const s = await started({ subBatchSize: 2 });
    wrapped.fail(1);
    await kafka.deliver(batchOf(eventLines(4)));
    expect(kafka.steps).toEqual(['pause']);
    await new Promise((r) => setTimeout(r, 50));
    expect(kafka.steps).toEqual(['pause', 'resume']);
    expect(s.totals.received).toBe(0);

    // The second sub-batch fails (in a transaction of its own): the first stays committed, the rest
    // is fetched again from offset 2.
    await s.stop();
    await started({ subBatchSize: 2, maxFoldMessages: 2 });
    const apply = wrapped.apply.bind(wrapped);
    let n = 0;
    wrapped.apply = async (batch) => {
      n += 1;
      if (n === 2) throw new StoreUnavailableError('down');
      return apply(batch);
    };
    await kafka.deliver(batchOf(eventLines(4)));
    expect(kafka.steps).toEqual(['resolve 1', 'commit 1', 'heartbeat', 'pause']);
  });

  it('reports the lag of records fetched but not folded while the store cannot fold them', async () => {
    const registry = new Registry();
    await started({ subBatchSize: 2, registry });
    const lag = async () => (await registry.getSingleMetric('gradestream_kafka_consumer_lag')!.get()).values.map((v) => v.value);
    wrapped.fail(1);
    await kafka.deliver(batchOf(eventLines(4), 100)); // offsets 100-103, high watermark 114
    expect(kafka.steps).toEqual(['pause']);
    expect(await lag()).toEqual([14]);
    await kafka.deliver(batchOf(eventLines(4), 100)); // fetched again after the pause: folded
    expect(await lag()).toEqual([10]);
  });

  it('reads Avro (magic byte 0) and JSON values; forwards quarantined records to the DLQ before committing', async () => {
    const s = await started({ dlqTopic: 'events-dlq' });
    const [json, , , other] = eventLines(4); // two grade_change events
    const asAvro = avro.encode(2, JSON.parse(other!));
    const garbage = Buffer.from([0, 0, 0, 0, 42, 9]);
    await kafka.deliver({ ...batchOf([json!, asAvro, garbage, 'nope', null]) });

    expect(s.totals).toMatchObject({ received: 5, applied: 2, quarantined: 3 });
    expect(kafka.produced).toHaveLength(1);
    expect(kafka.produced[0]!.topic).toBe('events-dlq');
    expect(kafka.produced[0]!.records.map((r) => [r.value, r.headers?.['gradestream-reason'], r.headers?.['gradestream-source']])).toEqual([
      [garbage, 'invalid_avro', 'events/1/2'],
      [Buffer.from('nope'), 'malformed_json', 'events/1/3'],
      [null, 'not_an_event', 'events/1/4'],
    ]);
    expect(kafka.steps).toEqual(['resolve 4', 'commit 4', 'heartbeat']);
    const q = await store.listQuarantine({ limit: 10 });
    expect(q.map((e) => [e.position, e.reason, e.raw])).toEqual([
      ['events/1/2', 'invalid_avro', garbage.toString('base64')],
      ['events/1/3', 'malformed_json', 'nope'],
      ['events/1/4', 'not_an_event', ''],
    ]);
  });

  it('re-creates a consumer that crashed for good', async () => {
    await started();
    expect(kafka.consumersMade).toBe(1);
    kafka.crash!({ error: new Error('gone'), restart: false });
    for (let i = 0; i < 100 && kafka.consumersMade < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(kafka.consumersMade).toBe(2);
    await new Promise((r) => setTimeout(r, 5));
    expect(kafka.steps).toEqual(['disconnect', 'connect', 'subscribe events', 'run']);
  });
});
