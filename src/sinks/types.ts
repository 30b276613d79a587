import { InternalError } from '../errors.js';
import { BATCH_ID } from './formats/format.js';

/**
 * What every sink receives and returns. A batch is delivered idempotently by its id (SPEC §5): every
 * file name contains the batch id, so a re-delivery after a crash lands on the same name, key or
 * Idempotency-Key and the SIS sees one batch.
 */

/**
 * A file's content: bytes, or chunks streamed so that a million rows never make one giant string. An
 * async iterable whose iterator is itself (a generator object) can be read only once; sinks that may
 * need to send it twice (HTTPS retries) buffer it. Use `replayable` to stream on every attempt.
 */
export type Bytes = Uint8Array | AsyncIterable<Uint8Array>;

export interface BatchFile {
  /** Final base name, e.g. gradestream-<batchId>.csv (see batchFileName). */
  name: string;
  contentType: string;
  bytes: Bytes;
}

export interface Batch {
  id: string;
  files: readonly BatchFile[];
}

export interface Delivery {
  /** Where the batch now is, for the run history: a path, s3:// URL or https URL (no credentials). */
  location: string;
  /** One per file, in order. */
  locations: string[];
}

export interface DeliverOptions {
  signal?: AbortSignal;
}

export interface Sink {
  /** The SIS target, without credentials: the key of the acknowledged-view ledger. */
  readonly target: string;
  deliver(batch: Batch, options?: DeliverOptions): Promise<Delivery>;
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** A malformed batch is a bug in the caller, never the SIS's fault. */
export function checkBatch(batch: Batch): void {
  if (!BATCH_ID.test(batch.id)) throw new InternalError(`batch id ${JSON.stringify(batch.id)} is not a safe id`);
  if (batch.files.length === 0) throw new InternalError(`batch ${batch.id} has no files`);
  const names = new Set<string>();
  for (const { name } of batch.files) {
    if (!FILE_NAME.test(name) || !name.includes(batch.id) || names.has(name)) {
      throw new InternalError(`batch ${batch.id}: file name ${JSON.stringify(name)} must be a unique plain name containing the batch id`);
    }
    names.add(name);
  }
}

export function delivered(locations: string[]): Delivery {
  return { location: locations.length === 1 ? locations[0]! : locations.join(', '), locations };
}

/** An iterable that makes a fresh stream each time it is iterated. */
export function replayable(open: () => AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => open()[Symbol.asyncIterator]() };
}

/** True when iterating `bytes` a second time would not give the same chunks again. */
export function isOneShot(bytes: Bytes): boolean {
  return !(bytes instanceof Uint8Array) && typeof (bytes as Partial<AsyncIterator<Uint8Array>>).next === 'function';
}

export async function readAll(bytes: Bytes): Promise<Uint8Array> {
  if (bytes instanceof Uint8Array) return bytes;
  const chunks: Uint8Array[] = [];
  for await (const chunk of bytes) chunks.push(chunk);
  return Buffer.concat(chunks);
}
