import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { SinkRejectedError, SinkUnavailableError } from './errors.js';
import { checkBatch, delivered, readAll, type Batch, type DeliverOptions, type Delivery, type Sink } from './types.js';

/**
 * `s3://bucket/prefix` (SPEC §5): each file is PUT at `prefix/<file name>`; the name contains the batch
 * id, so a re-delivery overwrites the same key with the same bytes. The SDK retries throttling, 5xx
 * and network errors itself; what still fails is reported as SINK_UNAVAILABLE, and 4xx answers
 * (access denied, no such bucket) as SINK_REJECTED. Region, credentials and AWS_ENDPOINT_URL_S3 come
 * from the SDK's usual sources; with a custom endpoint (MinIO, LocalStack) path-style addressing is
 * used. The SDK is loaded on first delivery, so other sinks never pay for it.
 */
export interface S3SinkOptions {
  client?: S3Client;
  clientConfig?: S3ClientConfig;
}

export class S3Sink implements Sink {
  readonly target: string;
  private client: S3Client | undefined;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    private readonly options: S3SinkOptions = {},
  ) {
    this.target = `s3://${bucket}/${prefix}`;
    this.client = options.client;
  }

  async deliver(batch: Batch, options: DeliverOptions = {}): Promise<Delivery> {
    checkBatch(batch);
    const { PutObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
    this.client ??= new S3Client({
      forcePathStyle: Boolean(process.env['AWS_ENDPOINT_URL_S3'] ?? process.env['AWS_ENDPOINT_URL']),
      ...this.options.clientConfig,
    });
    const locations: string[] = [];
    for (const file of batch.files) {
      const key = this.prefix === '' ? file.name : `${this.prefix}/${file.name}`;
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            // PutObject needs the length up front: a streamed file is gathered first.
            Body: await readAll(file.bytes),
            ContentType: file.contentType,
            Metadata: { 'gradestream-batch-id': batch.id },
          }),
          { abortSignal: options.signal },
        );
      } catch (err) {
        throw asSinkError(err, `s3://${this.bucket}/${key}: batch ${batch.id} not delivered`);
      }
      locations.push(`s3://${this.bucket}/${key}`);
    }
    return delivered(locations);
  }
}

function asSinkError(err: unknown, what: string): Error {
  const error = err as Error & { $metadata?: { httpStatusCode?: number } };
  if (error.name === 'AbortError') return error;
  const status = error.$metadata?.httpStatusCode;
  const message = `${what}: ${error.name}${error.message ? `: ${error.message}` : ''}${status === undefined ? '' : ` (HTTP ${status})`}`;
  if (status !== undefined && status >= 300 && status < 500 && status !== 408 && status !== 429) {
    return new SinkRejectedError(message, status, { cause: err });
  }
  return new SinkUnavailableError(message, 1, { cause: err });
}
