import kafkajs from 'kafkajs';
import type { Consumer, EachBatchPayload, KafkaConfig, LogEntry, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from '../log.js';

/**
 * The Kafka client as the Kafka source sees it: a small interface of gradestream's own, so that the
 * client library can be replaced (kafkajs is in maintenance mode) by writing one adapter, not by
 * touching the source. `kafkajsClient` is the adapter for kafkajs 2.x.
 */

/** One record of a fetched batch. Offsets are decimal strings (64-bit). */
export interface KafkaRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** Records of one topic-partition, in offset order, as fetched. */
export interface KafkaBatch {
  topic: string;
  partition: number;
  /** the partition's high watermark when fetched: the offset the next produced record will get */
  highWatermark: string;
  messages: readonly KafkaRecord[];
}

/** What a batch handler may do while it holds a batch. */
export interface BatchContext {
  readonly batch: KafkaBatch;
  /** `offset` and every record before it are processed: the partition's next fetch starts after it. */
  resolveOffset(offset: string): void;
  /** Commits the group's position of this partition as just after `offset`. */
  commit(offset: string): Promise<void>;
  /** Tells the group coordinator this member is alive; throws when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** Stops fetching this partition; returns the function that resumes it. */
  pause(): () => void;
  /** False once the consumer is stopping: leave the rest of the batch unresolved. */
  isRunning(): boolean;
  /** True when the partition's position was moved (seek) since the batch was fetched: drop the rest. */
  isStale(): boolean;
}

export interface ConsumerSettings {
  groupId: string;
  /** a member silent this long is removed from the group (default 30,000 ms) */
  sessionTimeoutMs?: number;
  /** how often heartbeats are sent at most (default 3,000 ms) */
  heartbeatIntervalMs?: number;
  /** bytes fetched per partition per request (default 1 MiB) */
  maxBytesPerPartition?: number;
  /** longest wait of a fetch for new records (default 5,000 ms) */
  maxWaitTimeMs?: number;
}

export interface KafkaConsumerPort {
  connect(): Promise<void>;
  subscribe(topics: readonly string[], options: { fromBeginning: boolean }): Promise<void>;
  /**
   * Joins the group and starts fetching; resolves once joined. Offsets are never committed or
   * resolved automatically: only through the batch context.
   */
  run(options: { partitionsConsumedConcurrently: number; eachBatch(context: BatchContext): Promise<void> }): Promise<void>;
  /** Stops fetching, waits for the batches being handled, leaves the group. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
  /** The consumer failed; `restart` says whether the client restarts it by itself. */
  onCrash(listener: (event: { error: Error; restart: boolean }) => void): void;
  /** The group (re)assigned partitions to this member: topic → partitions. */
  onAssignment(listener: (assignment: Record<string, number[]>) => void): void;
}

export interface ProducedRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string>;
}

export interface KafkaProducerPort {
  connect(): Promise<void>;
  /** Resolves once every record is acknowledged by all in-sync replicas. */
  send(topic: string, records: readonly ProducedRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaClientPort {
  consumer(settings: ConsumerSettings): KafkaConsumerPort;
  producer(): KafkaProducerPort;
}

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** How to reach the cluster. */
export interface KafkaConnection {
  brokers: readonly string[];
  clientId?: string;
  /** TLS, verified against Node's CA store (NODE_EXTRA_CA_CERTS adds a private CA) */
  ssl?: boolean;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  /** Where the client library logs go (at debug level and below, except failures). */
  log?: Logger;
}

/** kafkajs levels to pino: kafkajs logs every connection error as ERROR and then retries, so those are warnings here. */
function logCreator(log: Logger | undefined) {
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      if (log === undefined) return;
      const { message, timestamp: _timestamp, logger: _logger, ...rest } = entry;
      const fields = { kafkajs: namespace, ...rest };
      if (level <= kafkajs.logLevel.WARN) log.warn(fields, `kafkajs: ${message}`);
      else if (level === kafkajs.logLevel.INFO) log.debug(fields, `kafkajs: ${message}`);
      else log.trace(fields, `kafkajs: ${message}`);
    };
}

export function kafkajsConfig(connection: KafkaConnection): KafkaConfig {
  const sasl: SASLOptions | undefined =
    connection.sasl === undefined
      ? undefined
      : ({ mechanism: connection.sasl.mechanism, username: connection.sasl.username, password: connection.sasl.password } as SASLOptions);
  return {
    clientId: connection.clientId ?? 'gradestream',
    brokers: [...connection.brokers],
    ssl: connection.ssl ?? false,
    ...(sasl === undefined ? {} : { sasl }),
    logLevel: kafkajs.logLevel.INFO,
    logCreator: logCreator(connection.log),
    // A broker restart takes seconds: keep retrying a while before a call is given up as failed
    // (the consumer then restarts itself; see KafkaSource).
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 8 },
  };
}

/** The kafkajs 2.x adapter. */
export function kafkajsClient(connection: KafkaConnection): KafkaClientPort {
  const kafka = new kafkajs.Kafka(kafkajsConfig(connection));
  return {
    consumer: (settings) => new KafkajsConsumer(kafka, settings),
    producer: () => new KafkajsProducer(kafka),
  };
}

class KafkajsConsumer implements KafkaConsumerPort {
  private readonly consumer: Consumer;

  constructor(kafka: kafkajs.Kafka, settings: ConsumerSettings) {
    this.consumer = kafka.consumer({
      groupId: settings.groupId,
      sessionTimeout: settings.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: settings.heartbeatIntervalMs ?? 3_000,
      maxBytesPerPartition: settings.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: settings.maxWaitTimeMs ?? 5_000,
    });
  }

  connect(): Promise<void> {
    return this.consumer.connect();
  }

  subscribe(topics: readonly string[], options: { fromBeginning: boolean }): Promise<void> {
    return this.consumer.subscribe({ topics: [...topics], fromBeginning: options.fromBeginning });
  }

  run(options: { partitionsConsumedConcurrently: number; eachBatch(context: BatchContext): Promise<void> }): Promise<void> {
    return this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      eachBatch: (payload) => options.eachBatch(batchContext(payload)),
    });
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  disconnect(): Promise<void> {
    return this.consumer.disconnect();
  }

  onCrash(listener: (event: { error: Error; restart: boolean }) => void): void {
    this.consumer.on(this.consumer.events.CRASH, (e) => listener({ error: e.payload.error, restart: e.payload.restart }));
  }

  onAssignment(listener: (assignment: Record<string, number[]>) => void): void {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => listener({ ...e.payload.memberAssignment }));
  }
}

function batchContext(payload: EachBatchPayload): BatchContext {
  const { batch } = payload;
  return {
    batch,
    resolveOffset: (offset) => payload.resolveOffset(offset),
    commit: (offset) =>
      // With offsets given, kafkajs commits them whatever its auto-commit settings say.
      payload.commitOffsetsIfNecessary({
        topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(offset) + 1n).toString() }] }],
      }),
    heartbeat: () => payload.heartbeat(),
    pause: () => payload.pause(),
    isRunning: () => payload.isRunning(),
    isStale: () => payload.isStale(),
  };
}

class KafkajsProducer implements KafkaProducerPort {
  private readonly producer: Producer;

  constructor(kafka: kafkajs.Kafka) {
    this.producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async send(topic: string, records: readonly ProducedRecord[]): Promise<void> {
    await this.producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key ?? null, value: r.value, headers: r.headers })) });
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}
