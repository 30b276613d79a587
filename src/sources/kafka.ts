import { isUtf8 } from 'node:buffer';
import type { Registry } from 'prom-client';
import { isRetryable } from '../errors.js';
import { AvroDecoder, avroValueJson } from '../intake/avro.js';
import { intakeText, intakeValue, invalidUtf8, type Verdict } from '../intake/index.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import { Backoff, errorMessage, type BackoffOptions } from './backoff.js';
import { FoldQueue } from './fold-queue.js';
import { addCounts, zeroCounts, type IngestCounts, type IngestOptions, type Message, type MessageOutcome } from './ingest.js';
import type {
  BatchContext,
  KafkaBatch,
  KafkaClientPort,
  KafkaConsumerPort,
  KafkaProducerPort,
  KafkaRecord,
  ProducedRecord,
} from './kafka-client.js';
import { kafkaMetrics, type KafkaMetrics } from './source-metrics.js';

/**
 * The Kafka source (SPEC §1.1, §1.4): a consumer group reading Canvas events from one or more topics.
 * Values are Canvas JSON text, or Avro in the Confluent wire format when byte 0 is 0 (decoded with
 * `schemas/`). Each fetched batch is folded through `ingest` in sub-batches (source "kafka", position
 * "topic/partition/offset"); after each sub-batch's transaction commits — and after its quarantined
 * records reach the dead-letter topic, when one is configured — its offsets are resolved and committed,
 * then a heartbeat is sent. So:
 *
 * - an offset is committed only after its record is durably folded or quarantined; a crash re-reads at
 *   most the uncommitted sub-batches, which fold as duplicates;
 * - when the fold fails (the store is unavailable) nothing is committed: the partition is paused for a
 *   backoff (exponential, with jitter) and its records are fetched again from the first one not folded;
 * - every folded sub-batch is committed at once, so a rebalance or a graceful stop leaves nothing folded
 *   uncommitted (a stop waits for the sub-batch in hand, then leaves the group);
 * - a consumer that crashes for a reason kafkajs does not retry by itself (the broker was away too long)
 *   is re-created with backoff: consumption resumes without anyone stepping in.
 *
 * Lag: `gradestream_kafka_consumer_lag{topic,partition}` = the batch's high watermark − the next offset
 * to process, after each committed sub-batch.
 */
export interface KafkaSourceOptions extends IngestOptions {
  store: StateStore;
  /** `kafkajsClient({brokers, …})`, or another adapter of the port. */
  client: KafkaClientPort;
  /** GRADESTREAM_KAFKA_TOPICS */
  topics: readonly string[];
  /** GRADESTREAM_KAFKA_GROUP_ID (default "gradestream") */
  groupId: string;
  log: Logger;
  /** Registers the source's metrics (lag, commit failures, …); intake metrics come in `metrics`. */
  registry?: Registry;
  /** Default: `AvroDecoder.load()` (the schemas of `schemas/`), at start. */
  avro?: AvroDecoder;
  /**
   * GRADESTREAM_KAFKA_DLQ_TOPIC: quarantined records are also produced to this topic (same key and
   * value bytes; headers gradestream-reason, gradestream-detail, gradestream-source), besides the local
   * quarantine. The topic must exist (no auto-creation).
   */
  dlqTopic?: string;
  /** Where a group with no committed offset starts: true = the oldest record (default), false = new ones only. */
  fromBeginning?: boolean;
  /** Records of a partition folded at a time; their offsets are committed and a heartbeat sent after each (default 1,000). */
  subBatchSize?: number;
  /** Partitions handled at once; their sub-batches share store transactions (default 3). */
  partitionsConsumedConcurrently?: number;
  /** Most records in one store transaction when several partitions' sub-batches wait together (default 5,000). */
  maxFoldMessages?: number;
  /** default 30,000 ms */
  sessionTimeoutMs?: number;
  /** default 3,000 ms */
  heartbeatIntervalMs?: number;
  /** Bytes fetched per partition per request: bounds a fetched batch (default 2 MiB, about 1,500 Canvas events). */
  maxBytesPerPartition?: number;
  /** Longest wait of a fetch for new records; also how long the client idles while every partition is paused (default 5,000 ms). */
  maxWaitTimeMs?: number;
  /** Pause of a partition after a failed fold, and before re-creating a crashed consumer (default 500 ms doubling to 30 s, with jitter). */
  backoff?: BackoffOptions;
}

export const KAFKA_DEFAULTS = {
  groupId: 'gradestream',
  fromBeginning: true,
  subBatchSize: 1000,
  partitionsConsumedConcurrently: 3,
  maxFoldMessages: 5000,
  maxBytesPerPartition: 2 * 1024 * 1024,
} as const;

/** DLQ header values are capped: a detail quotes the offending input, which may be long. */
const HEADER_LIMIT = 2000;

export class KafkaSource {
  /** Every record folded since start, by outcome. */
  readonly totals: IngestCounts = zeroCounts();
  private readonly metrics: KafkaMetrics | undefined;
  private readonly folds: FoldQueue;
  private readonly foldBackoff: Backoff;
  private readonly restartBackoff: Backoff;
  private avro: AvroDecoder | undefined;
  private consumer: KafkaConsumerPort | undefined;
  private producer: KafkaProducerPort | undefined;
  private starting: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /** topic → partitions with a lag gauge set by this source */
  private lagLabels = new Map<string, Set<number>>();
  private stopping = false;

  constructor(private readonly options: KafkaSourceOptions) {
    if (options.topics.length === 0) throw new RangeError('the Kafka source needs at least one topic');
    this.metrics = options.registry === undefined ? undefined : kafkaMetrics(options.registry);
    // Sub-batches of partitions handled at once share a transaction.
    this.folds = new FoldQueue(options.store, {
      metrics: options.metrics,
      now: options.now,
      maxFutureMs: options.maxFutureMs,
      log: options.log,
      maxMessages: options.maxFoldMessages ?? KAFKA_DEFAULTS.maxFoldMessages,
      onFolded: (counts) => addCounts(this.totals, counts),
    });
    this.foldBackoff = new Backoff(options.backoff);
    this.restartBackoff = new Backoff(options.backoff);
    this.avro = options.avro;
  }

  /** Loads the Avro schemas, connects, joins the group; rejects when that fails (nothing left running). */
  async start(): Promise<void> {
    if (this.consumer !== undefined) throw new Error('Kafka source already started');
    this.stopping = false;
    this.avro ??= await AvroDecoder.load();
    try {
      if (this.options.dlqTopic !== undefined) {
        this.producer = this.options.client.producer();
        await this.producer.connect();
      }
      this.starting = this.startConsumer();
      await this.starting;
    } catch (err) {
      await this.producer?.disconnect().catch(() => undefined);
      this.producer = undefined;
      throw new Error(`Kafka source: cannot consume ${this.options.topics.join(', ')} as group ${this.options.groupId}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.options.log.info(
      { topics: this.options.topics, groupId: this.options.groupId, dlqTopic: this.options.dlqTopic },
      'Kafka source started',
    );
  }

  /** Stops fetching, lets the sub-batch in hand commit, leaves the group and disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    for (const t of this.resumeTimers) clearTimeout(t);
    this.resumeTimers.clear();
    await this.starting?.catch(() => undefined);
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer !== undefined) {
      await consumer.stop().catch((err: unknown) => this.options.log.warn({ err: errorMessage(err) }, 'Kafka consumer stop failed'));
      await consumer.disconnect().catch(() => undefined);
    }
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
    this.options.log.info({ topics: this.options.topics, ...this.totals }, 'Kafka source stopped');
  }

  private async startConsumer(): Promise<void> {
    const o = this.options;
    const consumer = o.client.consumer({
      groupId: o.groupId,
      ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: o.sessionTimeoutMs }),
      ...(o.heartbeatIntervalMs === undefined ? {} : { heartbeatIntervalMs: o.heartbeatIntervalMs }),
      ...(o.maxWaitTimeMs === undefined ? {} : { maxWaitTimeMs: o.maxWaitTimeMs }),
      maxBytesPerPartition: o.maxBytesPerPartition ?? KAFKA_DEFAULTS.maxBytesPerPartition,
    });
    this.consumer = consumer;
    consumer.onCrash(({ error, restart }) => this.crashed(consumer, error, restart));
    consumer.onAssignment((assignment) => this.assigned(assignment));
    try {
      await consumer.connect();
      await consumer.subscribe(o.topics, { fromBeginning: o.fromBeginning ?? KAFKA_DEFAULTS.fromBeginning });
      await consumer.run({
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? KAFKA_DEFAULTS.partitionsConsumedConcurrently,
        eachBatch: (context) => this.handleBatch(context),
      });
    } catch (err) {
      if (this.consumer === consumer) this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  private crashed(consumer: KafkaConsumerPort, error: Error, restart: boolean): void {
    if (this.stopping || consumer !== this.consumer) return;
    if (restart) {
      this.options.log.warn({ err: error.message }, 'Kafka consumer crashed; the client restarts it');
      return;
    }
    this.options.log.error({ err: error.message }, 'Kafka consumer crashed; re-creating it');
    this.consumer = undefined;
    void consumer.disconnect().catch(() => undefined);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopping) return;
    const delay = this.restartBackoff.next();
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.metrics?.restarts.inc();
      this.starting = this.startConsumer().then(
        () => {
          this.restartBackoff.reset();
          this.options.log.info({ topics: this.options.topics }, 'Kafka consumer re-created');
        },
        (err: unknown) => {
          this.options.log.error({ err: errorMessage(err) }, 're-creating the Kafka consumer failed; trying again');
          this.scheduleRestart();
        },
      );
    }, delay);
  }

  /** Forgets the lag of partitions this member no longer owns. */
  private assigned(assignment: Record<string, number[]>): void {
    this.options.log.info({ assignment }, 'Kafka partitions assigned');
    for (const [topic, partitions] of this.lagLabels) {
      const owned = new Set(assignment[topic] ?? []);
      for (const p of partitions) {
        if (!owned.has(p)) {
          this.metrics?.consumerLag.remove({ topic, partition: String(p) });
          partitions.delete(p);
        }
      }
    }
  }

  private async handleBatch(context: BatchContext): Promise<void> {
    const { batch } = context;
    // The lag counts from the first record not yet folded, before folding: a store that cannot fold
    // (the partition paused, its records fetched again and again) shows as the backlog it is.
    if (batch.messages.length > 0) this.setLag(batch, BigInt(batch.messages[0]!.offset));
    const size = Math.max(1, this.options.subBatchSize ?? KAFKA_DEFAULTS.subBatchSize);
    // Every sub-batch is handed to the fold queue at once (the store folds them in call order, the
    // next one's intake overlapping the last one's commit); offsets are then committed in order, each
    // only after its own sub-batch and all before it are folded.
    const folding: { slice: KafkaRecord[]; messages: Message[]; outcomes: Promise<MessageOutcome[]> }[] = [];
    for (let i = 0; i < batch.messages.length; i += size) {
      const slice = batch.messages.slice(i, i + size);
      const messages = slice.map((r) => this.toMessage(batch.topic, batch.partition, r));
      const outcomes = this.folds.fold(messages);
      outcomes.catch(() => undefined); // awaited below, in order
      folding.push({ slice, messages, outcomes });
    }
    for (const { slice, messages, outcomes: pending } of folding) {
      // Stopping, or the partition was moved: leave the rest unresolved; it is fetched again.
      if (this.stopping || !context.isRunning() || context.isStale()) return;
      try {
        const outcomes = await pending;
        if (this.producer !== undefined && outcomes.includes('quarantined')) {
          await this.deadLetter(batch, slice, messages, outcomes);
        }
      } catch (err) {
        this.retryLater(context, slice[0]!.offset, err);
        return;
      }
      this.foldBackoff.reset();
      const last = slice[slice.length - 1]!.offset;
      context.resolveOffset(last);
      try {
        await context.commit(last);
      } catch (err) {
        // Folded but not committed: re-read after a rebalance or restart, folding as duplicates.
        this.metrics?.commitFailures.inc({ topic: batch.topic });
        this.options.log.warn(
          { topic: batch.topic, partition: batch.partition, offset: last, err: errorMessage(err) },
          'offset commit failed; the next commit covers it',
        );
      }
      this.setLag(batch, BigInt(last) + 1n);
      await context.heartbeat();
    }
  }

  /** Nothing committed: pause the partition, then fetch again from `from` (its first record not folded). */
  private retryLater(context: BatchContext, from: string, err: unknown): void {
    const { topic, partition } = context.batch;
    const retryable = isRetryable(err);
    this.metrics?.batchFailures.inc({ source: 'kafka', retryable: String(retryable) });
    const delay = this.foldBackoff.next();
    this.options.log[retryable ? 'warn' : 'error'](
      { topic, partition, offset: from, err: errorMessage(err), retryable, retryInMs: delay },
      'fold failed: the partition is paused, and its records are read again from this offset',
    );
    const resume = context.pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, delay);
    this.resumeTimers.add(timer);
  }

  /** Records of the partition from `next` (the first not folded) to its high watermark. */
  private setLag(batch: KafkaBatch, next: bigint): void {
    if (this.metrics === undefined) return;
    const lag = BigInt(batch.highWatermark) - next;
    this.metrics.consumerLag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(lag > 0n ? lag : 0n));
    let partitions = this.lagLabels.get(batch.topic);
    if (partitions === undefined) this.lagLabels.set(batch.topic, (partitions = new Set()));
    partitions.add(batch.partition);
  }

  /**
   * A record as a message of the pipeline. JSON text goes through intake as it is. An Avro value is
   * decoded first; if quarantined, its raw text is the decoded value as JSON (readable, and re-drivable
   * as Canvas JSON), or, when it cannot be decoded at all, the value's bytes in base64. The detail says which.
   */
  private toMessage(topic: string, partition: number, record: KafkaRecord): Message {
    const position = `${topic}/${partition}/${record.offset}`;
    const value = record.value;
    if (value === null) {
      const verdict: Verdict = { outcome: 'quarantined', reason: 'not_an_event', detail: 'the Kafka record has no value (a tombstone)' };
      return { text: '', source: 'kafka', position, verdict };
    }
    const intake = { receivedAt: (this.options.now ?? Date.now)(), maxFutureMs: this.options.maxFutureMs };
    if (value.length > 0 && value[0] === 0) {
      const wire = this.avro!.decodeWire(value);
      if (!wire.ok) {
        const detail = `${wire.detail} (raw: the Kafka value in base64)`;
        return { text: value.toString('base64'), source: 'kafka', position, verdict: { outcome: 'quarantined', reason: 'invalid_avro', detail } };
      }
      const verdict = intakeValue(wire.value, undefined, intake);
      if (verdict.outcome !== 'quarantined') return { text: '', source: 'kafka', position, verdict }; // the text is only kept for quarantine
      const detail = `${verdict.detail} (raw: the Avro value, schema id ${wire.schemaId}, as JSON)`;
      return { text: avroValueJson(wire.value), source: 'kafka', position, verdict: { ...verdict, detail } };
    }
    // Bytes that are not UTF-8 are kept exactly (a copy: the fetched batch's buffer is not held).
    if (!isUtf8(value)) return { text: '', bytes: Buffer.from(value), source: 'kafka', position, verdict: invalidUtf8(value) };
    const text = value.toString('utf8');
    return { text, source: 'kafka', position, verdict: intakeText(text, intake) };
  }

  /** Produces the quarantined records of a folded sub-batch to the dead-letter topic. */
  private async deadLetter(
    batch: KafkaBatch,
    records: readonly KafkaRecord[],
    messages: readonly Message[],
    outcomes: readonly MessageOutcome[],
  ): Promise<void> {
    const dead: ProducedRecord[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome !== 'quarantined') return;
      // Quarantined by intake, or (its verdict valid) because the store failed on it alone.
      const verdict = messages[i]!.verdict;
      const [reason, detail] =
        verdict?.outcome === 'quarantined' ? [verdict.reason, verdict.detail] : ['internal_error', 'the state store failed on this record (see its quarantine entry)'];
      dead.push({
        key: records[i]!.key,
        value: records[i]!.value,
        headers: {
          'gradestream-reason': reason,
          'gradestream-detail': detail.slice(0, HEADER_LIMIT),
          'gradestream-source': messages[i]!.position,
        },
      });
    });
    await this.producer!.send(this.options.dlqTopic!, dead);
    this.metrics?.deadLettered.inc({ topic: batch.topic }, dead.length);
  }
}
