import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of the live sources (SPEC §7.4 "consumer lag for Kafka and SQS", and what an operator needs
 * to see a source struggling). Registered in the caller's registry; several sources (an SQS and a Kafka
 * source, or two SQS queues) may share one registry, so each metric is created once and then reused.
 * Labels are queue names, topics and partitions: never an id from an event.
 */

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export interface SourceMetrics {
  /** batches left unacknowledged because the fold failed (redelivered later) */
  batchFailures: Counter<'source' | 'retryable'>;
}

export function sourceMetrics(registry: Registry): SourceMetrics {
  return {
    batchFailures: counter(
      registry,
      'gradestream_source_batch_failures_total',
      'Batches a source left unacknowledged because folding them failed (retryable: the store was unavailable); they are redelivered',
      ['source', 'retryable'],
    ),
  };
}

export interface SqsMetrics extends SourceMetrics {
  approximateMessages: Gauge<'queue' | 'state'>;
  deleteFailures: Counter<'queue'>;
  receiveErrors: Counter<'queue'>;
  visibilityExtensions: Counter<'queue'>;
}

export function sqsMetrics(registry: Registry): SqsMetrics {
  return {
    ...sourceMetrics(registry),
    approximateMessages: gauge(
      registry,
      'gradestream_sqs_approximate_messages',
      'SQS consumer lag: ApproximateNumberOfMessages (state="visible": waiting) and ApproximateNumberOfMessagesNotVisible (state="not_visible": in flight), by queue name',
      ['queue', 'state'],
    ),
    deleteFailures: counter(
      registry,
      'gradestream_sqs_delete_failures_total',
      'Folded SQS messages that could not be deleted; they come back after the visibility timeout and fold as duplicates',
      ['queue'],
    ),
    receiveErrors: counter(registry, 'gradestream_sqs_receive_errors_total', 'Failed SQS ReceiveMessage calls', ['queue']),
    visibilityExtensions: counter(
      registry,
      'gradestream_sqs_visibility_extensions_total',
      'ChangeMessageVisibilityBatch calls made for batches still being folded',
      ['queue'],
    ),
  };
}

export interface KafkaMetrics extends SourceMetrics {
  consumerLag: Gauge<'topic' | 'partition'>;
  commitFailures: Counter<'topic'>;
  deadLettered: Counter<'topic'>;
  restarts: Counter;
}

export function kafkaMetrics(registry: Registry): KafkaMetrics {
  return {
    ...sourceMetrics(registry),
    consumerLag: gauge(
      registry,
      'gradestream_kafka_consumer_lag',
      'Kafka consumer lag: the partition high watermark minus the next offset to process, after the last folded batch',
      ['topic', 'partition'],
    ),
    commitFailures: counter(
      registry,
      'gradestream_kafka_commit_failures_total',
      'Offset commits that failed after a fold (the records are re-read and fold as duplicates)',
      ['topic'],
    ),
    deadLettered: counter(
      registry,
      'gradestream_kafka_dead_lettered_total',
      'Quarantined Kafka records forwarded to the dead-letter topic, by source topic',
      ['topic'],
    ),
    restarts: counter(registry, 'gradestream_kafka_consumer_restarts_total', 'Kafka consumers re-created after a crash', []),
  };
}
