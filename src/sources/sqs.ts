import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message as SqsMessage,
} from '@aws-sdk/client-sqs';
import type { Registry } from 'prom-client';
import { isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import { Backoff, errorMessage, sleep, type BackoffOptions } from './backoff.js';
import { FoldQueue } from './fold-queue.js';
import { addCounts, zeroCounts, type IngestCounts, type IngestOptions, type Message } from './ingest.js';
import { sqsMetrics, type SqsMetrics } from './source-metrics.js';

/**
 * The Amazon SQS source (SPEC §1.1, §1.4). Each poller long-polls the queue, folds what it received
 * through `ingest` (one store transaction per received batch: source "sqs", position = the SQS
 * MessageId) and only then deletes the batch. So:
 *
 * - a message is deleted only after it is durably folded or quarantined (quarantined messages are
 *   deleted too: the quarantine keeps them, and redelivering cannot fix them);
 * - when the fold fails (the store is unavailable) nothing is deleted: the messages reappear after the
 *   visibility timeout, and the poller backs off (exponential, with jitter). With a redrive policy, a
 *   message that keeps failing moves to the dead-letter queue after maxReceiveCount receives, as AWS does;
 * - a delete that fails (AWS answers DeleteMessageBatch with per-entry `Failed`) is logged and counted:
 *   the message comes back and folds as a duplicate, which changes nothing;
 * - a batch still being folded when `heartbeatSeconds` pass has its visibility extended
 *   (ChangeMessageVisibilityBatch), again and again until it is done, so that no other poller or
 *   replica receives it meanwhile;
 * - `stop()` ends the long polls at once and waits for the batches in flight to be folded and deleted.
 *
 * Consumer lag is exported as `gradestream_sqs_approximate_messages{queue,state}` (GetQueueAttributes,
 * every `lagIntervalMs`), labelled with the queue name, never its URL (which carries the account id).
 */

/** What the source needs of an SQS client: `send`. An SQSClient, or a fake in unit tests. */
export type SqsClientLike = Pick<SQSClient, 'send'>;

export interface SqsSourceOptions extends IngestOptions {
  store: StateStore;
  /** GRADESTREAM_SQS_QUEUE_URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/canvas-live-events */
  queueUrl: string;
  log: Logger;
  /** Default: `sqsClientFor(queueUrl)`, the AWS SDK's default region, endpoint and credential chains. */
  client?: SqsClientLike;
  /** Registers the source's metrics (lag, delete failures, …); intake metrics come in `metrics`. */
  registry?: Registry;
  /** Concurrent long polls; their batches share store transactions (default 8). */
  pollers?: number;
  /** Long-poll wait, 0-20 s (default 20: fewest empty receives, lowest cost). */
  waitTimeSeconds?: number;
  /** Messages per receive, 1-10 (default 10, the SQS maximum). */
  maxMessages?: number;
  /**
   * The visibility timeout given to received messages and set again by each extension. Default: the
   * queue's own VisibilityTimeout attribute, read at start (GetQueueAttributes).
   */
  visibilityTimeoutSeconds?: number;
  /**
   * How long a batch may be in flight before its visibility is extended, and then how often
   * (default: half the visibility timeout, at least 1 s).
   */
  heartbeatSeconds?: number;
  /** Pause after a failed receive or fold (default 500 ms doubling to 30 s, with jitter). */
  backoff?: BackoffOptions;
  /** How often the queue's approximate message counts are sampled, ms (default 30,000; 0 = never). */
  lagIntervalMs?: number;
  /** Attempts at deleting a folded batch before leaving it to come back as duplicates (default 3). */
  deleteAttempts?: number;
  /** Most messages folded in one store transaction, from batches received at about the same time (default 500). */
  maxFoldMessages?: number;
}

export const SQS_DEFAULTS = {
  pollers: 8,
  waitTimeSeconds: 20,
  maxMessages: 10,
  lagIntervalMs: 30_000,
  deleteAttempts: 3,
  maxFoldMessages: 500,
} as const;

/** The queue's name: the last path segment of its URL (the label of the lag metric). */
export function queueNameOf(queueUrl: string): string {
  try {
    return new URL(queueUrl).pathname.split('/').filter((s) => s !== '').at(-1) ?? queueUrl;
  } catch {
    return queueUrl;
  }
}

/** The region in an AWS queue URL (`https://sqs.REGION.amazonaws.com/…`), if it is one. */
export function regionOfQueueUrl(queueUrl: string): string | undefined {
  try {
    return /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(queueUrl).hostname)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * An SQS client configured the AWS SDK's way: credentials from the default chain (environment, SSO,
 * shared files, web identity, container and instance roles), the endpoint from AWS_ENDPOINT_URL_SQS
 * when set; the region from AWS_REGION, else the queue URL's own.
 */
export function sqsClientFor(queueUrl: string, env: NodeJS.ProcessEnv = process.env): SQSClient {
  const region = env['AWS_REGION'] || regionOfQueueUrl(queueUrl);
  return new SQSClient(region === undefined ? {} : { region });
}

export class SqsSource {
  readonly queue: string;
  /** Every message folded since start, by outcome. */
  readonly totals: IngestCounts = zeroCounts();
  private client: SqsClientLike;
  /** the client this source made (and so destroys at stop), if none was given */
  private owned: SQSClient | undefined;
  private readonly metrics: SqsMetrics | undefined;
  private readonly folds: FoldQueue;
  private abort = new AbortController();
  private running: Promise<void>[] = [];
  private lagTimer: NodeJS.Timeout | undefined;
  private visibility = 30;
  private stopping = false;

  constructor(private readonly options: SqsSourceOptions) {
    const { waitTimeSeconds = SQS_DEFAULTS.waitTimeSeconds, maxMessages = SQS_DEFAULTS.maxMessages } = options;
    if (!(waitTimeSeconds >= 0 && waitTimeSeconds <= 20)) throw new RangeError(`waitTimeSeconds ${waitTimeSeconds}: expected 0-20`);
    if (!(maxMessages >= 1 && maxMessages <= 10)) throw new RangeError(`maxMessages ${maxMessages}: expected 1-10`);
    this.queue = queueNameOf(options.queueUrl);
    this.client = options.client ?? { send: () => Promise.reject(new Error('SQS source not started')) };
    this.metrics = options.registry === undefined ? undefined : sqsMetrics(options.registry);
    const ingestOptions: IngestOptions = { metrics: options.metrics, now: options.now, maxFutureMs: options.maxFutureMs, log: options.log };
    this.folds = new FoldQueue(options.store, {
      ...ingestOptions,
      maxMessages: options.maxFoldMessages ?? SQS_DEFAULTS.maxFoldMessages,
      onFolded: (counts) => addCounts(this.totals, counts),
    });
  }

  /**
   * Starts the pollers and the lag sampler. Rejects (and starts nothing) when the queue cannot be
   * read: a wrong URL, no credentials, or no sqs:GetQueueAttributes permission.
   */
  async start(): Promise<void> {
    if (this.running.length > 0) throw new Error('SQS source already started');
    this.stopping = false;
    this.abort = new AbortController();
    if (this.options.client === undefined) this.client = this.owned = sqsClientFor(this.options.queueUrl);
    try {
      this.visibility = this.options.visibilityTimeoutSeconds ?? (await this.queueVisibilityTimeout());
    } catch (err) {
      this.owned?.destroy();
      this.owned = undefined;
      throw err;
    }
    const pollers = this.options.pollers ?? SQS_DEFAULTS.pollers;
    this.options.log.info(
      { queue: this.queue, pollers, visibilityTimeoutSeconds: this.visibility, heartbeatSeconds: this.heartbeatSeconds() },
      'SQS source started',
    );
    this.running = Array.from({ length: pollers }, () => this.poll());
    const lagMs = this.options.lagIntervalMs ?? SQS_DEFAULTS.lagIntervalMs;
    if (lagMs > 0 && this.metrics !== undefined) {
      void this.sampleLag();
      this.lagTimer = setInterval(() => void this.sampleLag(), lagMs);
      this.lagTimer.unref();
    }
  }

  /** Ends the long polls now and resolves once every batch in flight is folded and deleted. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.lagTimer);
    this.lagTimer = undefined;
    this.abort.abort();
    await Promise.all(this.running);
    await this.folds.idle();
    this.running = [];
    this.owned?.destroy(); // its keep-alive sockets would hold the process open
    this.owned = undefined;
    this.options.log.info({ queue: this.queue, ...this.totals }, 'SQS source stopped');
  }

  private heartbeatSeconds(): number {
    return this.options.heartbeatSeconds ?? Math.max(1, Math.floor(this.visibility / 2));
  }

  private async queueVisibilityTimeout(): Promise<number> {
    let out;
    try {
      out = await this.client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.options.queueUrl, AttributeNames: ['VisibilityTimeout'] }),
      );
    } catch (err) {
      throw new Error(`SQS queue ${this.queue}: cannot read its attributes (sqs:GetQueueAttributes): ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const seconds = Number(out.Attributes?.['VisibilityTimeout']);
    return Number.isFinite(seconds) && seconds >= 0 ? seconds : 30;
  }

  private async poll(): Promise<void> {
    const backoff = new Backoff(this.options.backoff);
    const { signal } = this.abort;
    let deleting: Promise<void> = Promise.resolve();
    let folding: Promise<boolean> = Promise.resolve(true);
    while (!this.stopping) {
      let messages: SqsMessage[];
      try {
        const out = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: this.options.maxMessages ?? SQS_DEFAULTS.maxMessages,
            WaitTimeSeconds: this.options.waitTimeSeconds ?? SQS_DEFAULTS.waitTimeSeconds,
            ...(this.options.visibilityTimeoutSeconds === undefined ? {} : { VisibilityTimeout: this.visibility }),
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: signal },
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (this.stopping) break;
        this.metrics?.receiveErrors.inc({ queue: this.queue });
        const delay = backoff.next();
        this.options.log.warn({ queue: this.queue, err: errorMessage(err), retryInMs: delay }, 'SQS receive failed');
        await sleep(delay, signal);
        continue;
      }
      if (messages.length === 0) continue;
      // Its visibility is kept from now on: the batch may wait for the one before it.
      const extension = this.extendWhileBusy(messages);
      // Fold while receiving the next batch, but never more than one batch behind; after a failed
      // fold, back off before folding again.
      if (!(await folding)) await sleep(backoff.next(), signal);
      folding = this.handle(messages, extension).then(async (ok) => {
        if (!ok) return false;
        backoff.reset();
        // Delete while folding the next batch, but never more than one delete behind.
        await deleting;
        deleting = this.delete(messages);
        return true;
      });
    }
    await folding;
    await deleting;
  }

  /** Folds one received batch; false when the fold failed (delete nothing: the messages come back). */
  private async handle(received: SqsMessage[], extension: { stop(): Promise<void> }): Promise<boolean> {
    const { log } = this.options;
    const messages: Message[] = received.map((m) => ({ text: m.Body ?? '', source: 'sqs', position: m.MessageId ?? '' }));
    if (log.isLevelEnabled('debug')) {
      const again = received.filter((m) => Number(m.Attributes?.ApproximateReceiveCount ?? '1') > 1).length;
      if (again > 0) log.debug({ queue: this.queue, redelivered: again }, 'SQS messages received again');
    }
    try {
      await this.folds.fold(messages);
    } catch (err) {
      const retryable = isRetryable(err);
      this.metrics?.batchFailures.inc({ source: 'sqs', retryable: String(retryable) });
      log[retryable ? 'warn' : 'error'](
        { queue: this.queue, messages: received.length, err: errorMessage(err), retryable },
        'fold failed: the messages stay on the queue and come back after their visibility timeout',
      );
      return false;
    } finally {
      await extension.stop();
    }
    return true;
  }

  /** Keeps extending the batch's visibility while it is being folded. */
  private extendWhileBusy(received: SqsMessage[]): { stop(): Promise<void> } {
    const every = this.heartbeatSeconds() * 1000;
    let extending: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      extending = extending.then(() => this.extend(received));
    }, every);
    // Stopped: no new extension, and the one under way (if any) is waited for, so that it cannot
    // race the delete that follows.
    return {
      stop: () => {
        clearInterval(timer);
        return extending;
      },
    };
  }

  private async extend(received: SqsMessage[]): Promise<void> {
    this.metrics?.visibilityExtensions.inc({ queue: this.queue });
    try {
      const out = await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: received.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: this.visibility })),
        }),
      );
      if ((out.Failed ?? []).length > 0) {
        this.options.log.warn(
          { queue: this.queue, failed: out.Failed!.map((f) => ({ code: f.Code, message: f.Message })) },
          'could not extend the visibility of some messages still being folded; they may be received twice (harmless)',
        );
      }
    } catch (err) {
      this.options.log.warn({ queue: this.queue, err: errorMessage(err) }, 'visibility extension failed');
    }
  }

  /**
   * DeleteMessageBatch, checking its per-entry `Failed` list: entries that failed on the server side
   * are retried, the rest (an expired receipt handle) logged. What is never deleted comes back after
   * the visibility timeout and folds as a duplicate.
   */
  private async delete(received: SqsMessage[]): Promise<void> {
    const attempts = this.options.deleteAttempts ?? SQS_DEFAULTS.deleteAttempts;
    let pending = received.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, MessageId: m.MessageId }));
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt += 1) {
      if (attempt > 1) await sleep(100 * 2 ** (attempt - 2));
      let failed;
      try {
        const out = await this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: pending.map(({ Id, ReceiptHandle }) => ({ Id, ReceiptHandle })),
          }),
        );
        failed = out.Failed ?? [];
      } catch (err) {
        lastProblem = errorMessage(err);
        continue; // the whole call failed: try every entry again
      }
      const byId = new Map(pending.map((p) => [p.Id, p]));
      const retry = failed.filter((f) => !f.SenderFault && byId.has(f.Id ?? ''));
      const given = failed.filter((f) => f.SenderFault || !byId.has(f.Id ?? ''));
      if (given.length > 0) this.deleteFailed(given.length, given.map((f) => `${f.Code}: ${f.Message ?? ''}`));
      if (retry.length > 0) lastProblem = retry.map((f) => `${f.Code}: ${f.Message ?? ''}`).join('; ');
      pending = retry.map((f) => byId.get(f.Id!)!);
    }
    if (pending.length > 0) this.deleteFailed(pending.length, [lastProblem]);
  }

  private deleteFailed(count: number, problems: string[]): void {
    this.metrics?.deleteFailures.inc({ queue: this.queue }, count);
    this.options.log.warn(
      { queue: this.queue, messages: count, problems: [...new Set(problems)] },
      'could not delete folded SQS messages: they will come back and fold as duplicates (harmless)',
    );
  }

  private async sampleLag(): Promise<void> {
    if (this.metrics === undefined) return;
    try {
      const out = await this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: this.options.queueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      const a = out.Attributes ?? {};
      this.metrics.approximateMessages.set({ queue: this.queue, state: 'visible' }, Number(a['ApproximateNumberOfMessages'] ?? NaN));
      this.metrics.approximateMessages.set(
        { queue: this.queue, state: 'not_visible' },
        Number(a['ApproximateNumberOfMessagesNotVisible'] ?? NaN),
      );
    } catch (err) {
      this.options.log.warn({ queue: this.queue, err: errorMessage(err) }, 'could not sample the SQS queue depth');
    }
  }
}
