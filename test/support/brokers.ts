import { randomBytes } from 'node:crypto';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import kafkajs from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';

/**
 * The real brokers of the integration tests: a Kafka broker and moto (SQS), started by
 * `bash scripts/services.sh up kafka moto` and found through `eval "$(bash scripts/services.sh env kafka moto)"`
 * (npm test does both). A missing server fails the tests; it never skips them.
 */

const START = 'start them with `bash scripts/services.sh up kafka moto` and `eval "$(bash scripts/services.sh env kafka moto)"` (npm test does both)';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set: ${START}`);
  return value;
}

export function kafkaBrokers(): string[] {
  return required('GRADESTREAM_TEST_KAFKA_BROKERS').split(',');
}

export function awsEndpoint(): string {
  const endpoint = required('GRADESTREAM_TEST_AWS_ENDPOINT');
  for (const name of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) required(name);
  return endpoint;
}

/** A name no other test (or earlier run) uses: `prefix-<time>-<random>`. */
export const uniqueName = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

/** Polls `check` until it returns true; fails with `what` and the last value seen after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---- SQS (moto) ---------------------------------------------------------------------------------

export function sqsClient(): SQSClient {
  return new SQSClient({ endpoint: awsEndpoint(), region: process.env['AWS_REGION'] });
}

export async function createQueue(client: SQSClient, name: string, attributes: Record<string, string> = {}): Promise<string> {
  const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return out.QueueUrl!;
}

export async function deleteQueue(client: SQSClient, url: string): Promise<void> {
  await client.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
}

export async function queueArn(client: SQSClient, url: string): Promise<string> {
  const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return out.Attributes!['QueueArn']!;
}

/** ApproximateNumberOfMessages + …NotVisible: what is still on the queue, received or not. */
export async function messagesOnQueue(client: SQSClient, url: string): Promise<number> {
  const out = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(out.Attributes!['ApproximateNumberOfMessages']) + Number(out.Attributes!['ApproximateNumberOfMessagesNotVisible']);
}

/** Sends the bodies in order (batches of 10); returns each body with its MessageId. */
export async function sendAll(client: SQSClient, url: string, bodies: readonly string[]): Promise<{ text: string; id: string }[]> {
  const sent: { text: string; id: string }[] = [];
  for (let i = 0; i < bodies.length; i += 10) {
    const chunk = bodies.slice(i, i + 10);
    const out = await client.send(
      new SendMessageBatchCommand({ QueueUrl: url, Entries: chunk.map((b, j) => ({ Id: String(j), MessageBody: b })) }),
    );
    if ((out.Failed ?? []).length > 0) throw new Error(`SendMessageBatch failed: ${JSON.stringify(out.Failed)}`);
    for (const s of out.Successful ?? []) sent.push({ text: chunk[Number(s.Id)]!, id: s.MessageId! });
  }
  return sent;
}

// ---- Kafka --------------------------------------------------------------------------------------

export function kafka(): kafkajs.Kafka {
  return new kafkajs.Kafka({
    clientId: 'gradestream-test',
    brokers: kafkaBrokers(),
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 5_000 },
  });
}

export async function createTopics(admin: Admin, topics: readonly string[], partitions = 3): Promise<void> {
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
}

export async function producer(k: kafkajs.Kafka): Promise<Producer> {
  const p = k.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await p.connect();
  return p;
}

/** Sum of the high watermarks of a topic's partitions, and the group's committed offsets on it. */
export async function committedEverything(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const high = await admin.fetchTopicOffsets(topic);
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return high.every((h) => {
    const c = committed?.partitions.find((p) => p.partition === h.partition);
    return c !== undefined && BigInt(c.offset === '-1' ? '0' : c.offset) === BigInt(h.high);
  });
}
