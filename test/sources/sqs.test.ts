import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type BatchResultErrorEntry,
  type Message as SqsMessage,
} from '@aws-sdk/client-sqs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/metrics.js';
import { queueNameOf, regionOfQueueUrl, SqsSource, type SqsClientLike } from '../../src/sources/sqs.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import { eventLines } from '../support/grades.js';

/**
 * Unit tests of the SQS source with a scripted SQS client: the answers real SQS gives rarely
 * (DeleteMessageBatch answering 200 with per-entry failures) on demand. The source against a real SQS
 * API is tested in test/integration/sqs.test.ts.
 */

type DeleteAnswer = { Failed?: BatchResultErrorEntry[] } | Error;

class ScriptedSqs {
  queue: SqsMessage[] = [];
  deletes: { Id?: string; ReceiptHandle?: string }[][] = [];
  deleteAnswers: DeleteAnswer[] = [];
  extensions = 0;

  readonly client: SqsClientLike = {
    send: (async (command: unknown, options?: { abortSignal?: AbortSignal }) => {
      if (command instanceof GetQueueAttributesCommand) return { Attributes: { VisibilityTimeout: '30' } };
      if (command instanceof ReceiveMessageCommand) {
        const batch = this.queue.splice(0, command.input.MaxNumberOfMessages ?? 1);
        if (batch.length > 0) return { Messages: batch };
        // An empty long poll: wait until aborted (or a short while).
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          options?.abortSignal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
        if (options?.abortSignal?.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        return { Messages: [] };
      }
      if (command instanceof DeleteMessageBatchCommand) {
        this.deletes.push(command.input.Entries ?? []);
        const answer = this.deleteAnswers.shift() ?? {};
        if (answer instanceof Error) throw answer;
        const failed = new Set((answer.Failed ?? []).map((f) => f.Id));
        return {
          Successful: (command.input.Entries ?? []).filter((e) => !failed.has(e.Id)).map((e) => ({ Id: e.Id })),
          Failed: answer.Failed ?? [],
        };
      }
      if (command instanceof ChangeMessageVisibilityBatchCommand) {
        this.extensions += 1;
        return { Successful: [], Failed: [] };
      }
      throw new Error(`unexpected command ${(command as object).constructor.name}`);
    }) as SqsClientLike['send'],
  };

  put(bodies: string[]): void {
    for (const [i, body] of bodies.entries()) {
      this.queue.push({ MessageId: `m-${this.queue.length + i}`, ReceiptHandle: `rh-${i}`, Body: body });
    }
  }
}

function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'warn' }, stream), lines };
}

describe('SqsSource deletes (scripted SQS client)', () => {
  let store: StateStore;
  let sqs: ScriptedSqs;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    sqs = new ScriptedSqs();
  });
  afterEach(async () => {
    await store.close();
  });

  async function runOnce(bodies: string[], registry: Registry, log: ReturnType<typeof capturingLog>['log']) {
    sqs.put(bodies);
    const source = new SqsSource({ store, queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/events', client: sqs.client, log, registry, pollers: 1 });
    await source.start();
    for (let i = 0; i < 200 && source.totals.received < bodies.length; i++) await new Promise((r) => setTimeout(r, 10));
    // Let the delete retries (100 ms, 200 ms) finish.
    await new Promise((r) => setTimeout(r, 400));
    await source.stop();
    return source;
  }

  it('checks the Failed entries of a 200 answer: retries server-side failures, counts and logs the rest', async () => {
    sqs.deleteAnswers = [
      {
        Failed: [
          { Id: '1', SenderFault: false, Code: 'InternalError', Message: 'try again' },
          { Id: '2', SenderFault: true, Code: 'ReceiptHandleIsInvalid', Message: 'expired' },
        ],
      },
      {}, // the retry of entry 1 succeeds
    ];
    const registry = new Registry();
    const { log, lines } = capturingLog();
    const source = await runOnce(eventLines(4), registry, log);

    expect(source.totals.received).toBe(4);
    expect(sqs.deletes.map((entries) => entries.map((e) => e.Id))).toEqual([['0', '1', '2', '3'], ['1']]);
    const failures = await registry.getSingleMetric('gradestream_sqs_delete_failures_total')!.get();
    expect(failures.values).toEqual([expect.objectContaining({ labels: { queue: 'events' }, value: 1 })]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 40, queue: 'events', messages: 1, problems: ['ReceiptHandleIsInvalid: expired'] }),
    );
  });

  it('retries a DeleteMessageBatch call that failed as a whole, and gives up after three attempts', async () => {
    sqs.deleteAnswers = [new Error('socket hang up'), new Error('socket hang up'), new Error('socket hang up')];
    const registry = new Registry();
    const { log, lines } = capturingLog();
    await runOnce(eventLines(3), registry, log);

    expect(sqs.deletes).toHaveLength(3);
    const failures = await registry.getSingleMetric('gradestream_sqs_delete_failures_total')!.get();
    expect(failures.values[0]!.value).toBe(3);
    expect(lines).toContainEqual(expect.objectContaining({ messages: 3, problems: ['socket hang up'] }));
  });

  it('deletes quarantined messages with the rest', async () => {
    const registry = new Registry();
    const { log } = capturingLog();
    const source = await runOnce(['not json', ...eventLines(2)], registry, log);
    expect(source.totals).toMatchObject({ received: 3, quarantined: 1 });
    expect(sqs.deletes).toEqual([[expect.objectContaining({ Id: '0' }), expect.objectContaining({ Id: '1' }), expect.objectContaining({ Id: '2' })]]);
  });
});

describe('SQS queue URLs', () => {
  it('label metrics with the queue name and find the region', () => {
    const url = 'https://sqs.eu-west-1.amazonaws.com/123456789012/canvas-live-events';
    expect(queueNameOf(url)).toBe('canvas-live-events');
    expect(regionOfQueueUrl(url)).toBe('eu-west-1');
    expect(regionOfQueueUrl('http://127.0.0.1:15000/123456789012/q')).toBeUndefined();
    expect(queueNameOf('http://127.0.0.1:15000/123456789012/q')).toBe('q');
  });
});
