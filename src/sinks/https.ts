import { setTimeout as delay } from 'node:timers/promises';
import { SinkRejectedError, SinkUnavailableError } from './errors.js';
import { withoutCredentials } from './url.js';
import { checkBatch, delivered, isOneShot, readAll, type Batch, type BatchFile, type DeliverOptions, type Delivery, type Sink } from './types.js';

/**
 * `https://…` (SPEC §5): each file is POSTed with `Idempotency-Key: <batchId>` (`<batchId>/<file name>`
 * when a batch has several files), so an endpoint that honours the header stores a re-delivered batch
 * once. 5xx, 408, 429 and network errors are retried with exponential backoff and full jitter, up to
 * `maxAttempts`; any other non-2xx fails at once with the endpoint's message, which the run history
 * keeps. Redirects are not followed (a POST body cannot be replayed to a new place safely).
 * Credentials in the URL (https://user:pass@host/…) are sent as HTTP Basic authentication.
 */
export interface HttpsSinkOptions {
  /** Attempts per file, including the first. Default 6. */
  maxAttempts?: number;
  /** Backoff before attempt n+1 is uniform in [0, min(maxDelayMs, baseDelayMs·2^(n-1))]. Default 1000. */
  baseDelayMs?: number;
  /** Default 30000; also caps a Retry-After. */
  maxDelayMs?: number;
  /** Per attempt. Default 120000. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  fetch?: typeof fetch;
  /** Told before each wait for another attempt (the service logs it at warn). */
  onRetry?: (retry: { target: string; batch: string; attempt: number; delayMs: number; problem: string }) => void;
}

/** What the history keeps of an endpoint's answer. */
const MESSAGE_CHARS = 500;
const READ_LIMIT = 64 * 1024;

export class HttpsSink implements Sink {
  readonly target: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly fetch: typeof fetch;
  private readonly onRetry: HttpsSinkOptions['onRetry'];

  constructor(url: URL, options: HttpsSinkOptions = {}) {
    this.url = withoutCredentials(url);
    this.target = this.url;
    this.headers = { 'user-agent': 'gradestream', ...options.headers };
    if (url.username !== '' || url.password !== '') {
      const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.headers['authorization'] = `Basic ${Buffer.from(pair).toString('base64')}`;
    }
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    this.random = options.random ?? Math.random;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.onRetry = options.onRetry;
  }

  async deliver(batch: Batch, options: DeliverOptions = {}): Promise<Delivery> {
    checkBatch(batch);
    const locations: string[] = [];
    for (const file of batch.files) {
      const key = batch.files.length === 1 ? batch.id : `${batch.id}/${file.name}`;
      locations.push(await this.post(batch.id, key, file, options.signal));
    }
    return delivered(locations);
  }

  private async post(batchId: string, key: string, file: BatchFile, signal?: AbortSignal): Promise<string> {
    // A one-shot stream cannot be sent twice: keep its bytes for the retries.
    const body = isOneShot(file.bytes) ? await readAll(file.bytes) : file.bytes;
    const headers = {
      ...this.headers,
      'content-type': file.contentType,
      'idempotency-key': key,
      'x-gradestream-batch-id': batchId,
      'x-gradestream-file': file.name,
    };
    let problem = '';
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs = 0;
      const attemptSignal = signal === undefined ? AbortSignal.timeout(this.timeoutMs) : AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]);
      try {
        const response = await this.fetch(this.url, {
          method: 'POST',
          headers,
          body: body as Uint8Array, // undici also streams an AsyncIterable<Uint8Array>
          duplex: 'half',
          redirect: 'manual',
          signal: attemptSignal,
        } as RequestInit);
        if (response.ok) {
          await response.body?.cancel();
          const location = response.headers.get('location');
          return location === null ? this.url : withoutCredentials(new URL(location, this.url));
        }
        const message = await responseMessage(response, attemptSignal);
        problem = `HTTP ${response.status}${message === '' ? '' : `: ${message}`}`;
        if (!retryable(response.status)) {
          throw new SinkRejectedError(`${this.target} rejected batch ${batchId}: ${problem}`, response.status);
        }
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
      } catch (err) {
        if (err instanceof SinkRejectedError) throw err;
        if (signal?.aborted) throw signal.reason;
        const tls = untrustedCertificate(err);
        if (tls !== null) {
          // The handshake failed, so nothing reached the SIS, and retrying cannot make it trusted.
          throw new SinkRejectedError(
            `${this.target}: its TLS certificate is not trusted (${tls}); for a private CA set NODE_EXTRA_CA_CERTS`,
            undefined,
            { cause: err },
          );
        }
        problem = networkProblem(err);
      }
      if (attempt >= this.maxAttempts) {
        throw new SinkUnavailableError(
          `${this.target}: batch ${batchId} not delivered after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${problem}`,
          attempt,
        );
      }
      const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
      const wait = Math.round(Math.min(this.maxDelayMs, Math.max(this.random() * ceiling, retryAfterMs)));
      this.onRetry?.({ target: this.target, batch: batchId, attempt, delayMs: wait, problem });
      await this.sleep(wait, signal);
    }
  }
}

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Retry-After in seconds or as an HTTP date; 0 when absent or unreadable. */
function parseRetryAfter(value: string | null): number {
  if (value === null) return 0;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

/** Node's certificate verification failures (the TLS handshake's, before any request is sent). */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function untrustedCertificate(err: unknown): string | null {
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && CERTIFICATE_ERRORS.has(code) ? code : null;
}

function networkProblem(err: unknown): string {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  if (error.name === 'TimeoutError') return 'timed out';
  const cause = error.cause?.code ?? error.cause?.message;
  return `${error.message ?? String(err)}${cause === undefined ? '' : ` (${cause})`}`;
}

/** The endpoint's own words: a JSON body's message/error/detail, else its text; one line, truncated. */
async function responseMessage(response: Response, signal: AbortSignal): Promise<string> {
  let text = '';
  try {
    text = await readText(response, signal);
  } catch {
    // A body that breaks off still leaves the status to report.
  }
  let message = text;
  try {
    message = pickMessage(JSON.parse(text)) ?? text;
  } catch {
    // Not JSON: the text is the message.
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message.length > MESSAGE_CHARS ? `${message.slice(0, MESSAGE_CHARS - 1)}…` : message;
}

function pickMessage(json: unknown): string | undefined {
  if (json === null || typeof json !== 'object') return typeof json === 'string' ? json : undefined;
  const object = json as Record<string, unknown>;
  for (const key of ['message', 'error_description', 'detail', 'error', 'title']) {
    const value = object[key];
    if (typeof value === 'string' && value !== '') return value;
    if (key === 'error' && value !== null && typeof value === 'object') {
      const nested = pickMessage(value);
      if (nested !== undefined) return nested;
    }
  }
  return undefined;
}

async function readText(response: Response, signal: AbortSignal): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  while (size < READ_LIMIT && !signal.aborted) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}
