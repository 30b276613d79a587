import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { intakeMetrics, Registry } from '../metrics.js';
import { kafkaSourceFromConfig, sqsSourceFromConfig, type LiveSource } from '../sources/live.js';
import { openStore } from '../state/store.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig, shared, type SharedOptions } from './options.js';

export interface ConsumeOptions extends SharedOptions {
  /** Kafka: the group session timeout in ms (a SIGKILLed member is noticed after this long) */
  sessionTimeout?: string;
}

/**
 * `gradestream consume kafka|sqs` (hidden; for operations and the process-level tests): runs one live
 * source, configured from the environment like `gradestream run`, until SIGTERM or SIGINT, then stops
 * it gracefully (what is in hand is folded and acknowledged), closes the store and prints the totals.
 * `until` replaces the signals (in-process tests).
 */
export async function consume(kind: string, opts: ConsumeOptions, io: CliIo, until?: AbortSignal): Promise<number> {
  if (kind !== 'kafka' && kind !== 'sqs') throw new UsageError(`consume: unknown source ${JSON.stringify(kind)} (kafka or sqs)`);
  const sessionTimeoutMs = opts.sessionTimeout === undefined ? undefined : Number(opts.sessionTimeout);
  if (sessionTimeoutMs !== undefined && !(Number.isSafeInteger(sessionTimeoutMs) && sessionTimeoutMs > 0)) {
    throw new UsageError(`--session-timeout: ${JSON.stringify(opts.sessionTimeout)} is not a positive integer`);
  }
  const config = commandConfig(opts, io);
  const log = createLogger(config.logLevel, undefined, config.logFormat);
  const registry = new Registry();
  const store = await openStore(config.stateUrl);
  try {
    const deps = { store, log, registry, metrics: intakeMetrics(registry) };
    const source: LiveSource | undefined =
      kind === 'sqs'
        ? sqsSourceFromConfig(config, deps)
        : kafkaSourceFromConfig(config, deps, sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs });
    if (source === undefined) {
      throw new UsageError(
        kind === 'sqs' ? 'consume sqs: GRADESTREAM_SQS_QUEUE_URL is not set' : 'consume kafka: GRADESTREAM_KAFKA_BROKERS and GRADESTREAM_KAFKA_TOPICS are not set',
      );
    }
    const stopped = stopRequested(until);
    await source.start();
    log.info({ source: kind }, 'consuming until SIGTERM');
    await stopped;
    await source.stop();
    const t = source.totals;
    if (opts.json) writeJson(io, { source: kind, ...t });
    else {
      io.stdout.write(
        `${kind}: ${t.received} received: ${t.applied} applied, ${t.stale} stale, ${t.duplicate} duplicate, ` +
          `${t.ignored} ignored, ${t.quarantined} quarantined\n`,
      );
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

function stopRequested(until?: AbortSignal): Promise<void> {
  if (until !== undefined) {
    return new Promise((resolve) => (until.aborted ? resolve() : until.addEventListener('abort', () => resolve(), { once: true })));
  }
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
}

/**
 * Adds the hidden `consume` command to main.ts's program (`registerConsume(cli, run)`), where `run`
 * records the action as for the other commands. Made with `cli.command()`, so it inherits the
 * program's exit override and output settings.
 */
export function registerConsume(cli: Command, run: (action: (io: CliIo) => Promise<number>) => void): void {
  shared(cli.command('consume', { hidden: true }))
    .description('run one live source (kafka or sqs, configured from the environment) until SIGTERM')
    .argument('<source>', 'kafka or sqs')
    .option('--session-timeout <ms>', 'Kafka consumer group session timeout (default 30000)')
    .action((kind: string, opts: ConsumeOptions) => run((io) => consume(kind, opts, io)));
}
