import type { Registry } from 'prom-client';
import { kafkaProblems, type Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { IntakeMetrics } from '../metrics.js';
import type { StateStore } from '../state/store.js';
import type { IngestCounts } from './ingest.js';
import { kafkajsClient } from './kafka-client.js';
import { KAFKA_DEFAULTS, KafkaSource, type KafkaSourceOptions } from './kafka.js';
import { SqsSource, type SqsSourceOptions } from './sqs.js';

/**
 * The queue and log sources built from the configuration (SPEC §7.2), for `gradestream run` and
 * `gradestream consume`. Each is started once and stopped once:
 *
 *   const sources = liveSources(config, { store, log, registry, metrics });
 *   for (const s of sources) await s.start();   // rejects if the queue/cluster cannot be reached
 *   …
 *   await Promise.all(sources.map((s) => s.stop()));   // before closing the store
 */
export interface LiveSource {
  readonly name: 'sqs' | 'kafka';
  /** Messages folded since start, by outcome. */
  readonly totals: IngestCounts;
  start(): Promise<void>;
  /** Graceful: stops receiving, finishes (folds and acknowledges) what is in hand. */
  stop(): Promise<void>;
}

export interface LiveSourceDeps {
  store: StateStore;
  log: Logger;
  /** for the sources' own metrics (lag, …) */
  registry?: Registry;
  /** intake metrics (events_total, …) shared with the other sources */
  metrics?: IntakeMetrics;
}

/** GRADESTREAM_MAX_FUTURE_SECONDS, as intake takes it. */
const maxFutureMs = (config: Config): number | undefined => (config.maxFutureSeconds === undefined ? undefined : config.maxFutureSeconds * 1000);

class Named<S extends SqsSource | KafkaSource> implements LiveSource {
  constructor(
    readonly name: 'sqs' | 'kafka',
    readonly source: S,
  ) {}
  get totals(): IngestCounts {
    return this.source.totals;
  }
  start(): Promise<void> {
    return this.source.start();
  }
  stop(): Promise<void> {
    return this.source.stop();
  }
}

/** The SQS source when GRADESTREAM_SQS_QUEUE_URL is set. */
export function sqsSourceFromConfig(config: Config, deps: LiveSourceDeps, tuning: Partial<SqsSourceOptions> = {}): LiveSource | undefined {
  if (config.sqsQueueUrl === undefined) return undefined;
  return new Named('sqs', new SqsSource({ ...deps, queueUrl: config.sqsQueueUrl, maxFutureMs: maxFutureMs(config), ...tuning }));
}

/** The Kafka source when GRADESTREAM_KAFKA_BROKERS and GRADESTREAM_KAFKA_TOPICS are set. */
export function kafkaSourceFromConfig(
  config: Config,
  deps: LiveSourceDeps,
  tuning: Partial<KafkaSourceOptions> = {},
): LiveSource | undefined {
  const brokers = config.kafkaBrokers ?? [];
  const topics = config.kafkaTopics ?? [];
  if (brokers.length === 0 && topics.length === 0) return undefined;
  const problems = kafkaProblems(config); // listed by loadConfig already; a Config built otherwise is checked here
  if (problems.length > 0) throw new ConfigError(problems);
  const sasl =
    config.kafkaSaslMechanism === undefined
      ? undefined
      : { mechanism: config.kafkaSaslMechanism, username: config.kafkaSaslUsername!, password: config.kafkaSaslPassword! };
  const client = kafkajsClient({ brokers, ssl: config.kafkaSsl ?? false, sasl, log: deps.log });
  return new Named(
    'kafka',
    new KafkaSource({
      ...deps,
      client,
      topics,
      groupId: config.kafkaGroupId ?? KAFKA_DEFAULTS.groupId,
      dlqTopic: config.kafkaDlqTopic,
      maxFutureMs: maxFutureMs(config),
      ...tuning,
    }),
  );
}

/** Every live source the configuration asks for (none when neither SQS nor Kafka is configured). */
export function liveSources(config: Config, deps: LiveSourceDeps): LiveSource[] {
  return [sqsSourceFromConfig(config, deps), kafkaSourceFromConfig(config, deps)].filter((s) => s !== undefined);
}
