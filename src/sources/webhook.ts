import { randomUUID } from 'node:crypto';
import { isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import type { Reply, Request } from '../service/http.js';
import { HttpError } from '../service/http.js';
import type { StateStore } from '../state/store.js';
import { Coalescer } from './coalescer.js';
import { ingest, type IngestOptions, type Message, type MessageOutcome } from './ingest.js';
import type { WebhookAuthenticator } from './webhook-auth.js';

/**
 * `POST /events` (SPEC §1.1, §7.3): one Canvas message per request. The answer is 2xx only after the
 * event is durably folded or quarantined (quarantined is a final answer too: re-sending the same bad
 * message cannot help). 401 for an unauthentic delivery, nothing folded; 503 while the store or the
 * JWKS is unavailable, so the sender retries.
 */
export interface WebhookOptions extends IngestOptions {
  store: StateStore;
  auth: WebhookAuthenticator;
  log: Logger;
  bodyLimit?: number;
  batch?: { maxItems: number; maxDelayMs: number };
}

export class WebhookSource {
  private readonly coalescer: Coalescer<Message, MessageOutcome>;

  constructor(private readonly options: WebhookOptions) {
    this.coalescer = new Coalescer(
      async (messages) => (await ingest(options.store, messages, options)).outcomes,
      options.batch ?? { maxItems: 200, maxDelayMs: 2 },
    );
  }

  readonly handle = async (req: Request): Promise<Reply> => {
    const text = await req.text(this.options.bodyLimit);
    const auth = await this.options.auth.authenticate({ body: text, headers: req.headers, query: req.query });
    if (!auth.ok) {
      this.options.log.warn({ why: auth.why }, 'webhook delivery refused');
      if (auth.retryable) throw new HttpError(503, 'cannot verify signatures right now', { 'retry-after': '5' });
      throw new HttpError(401, 'unauthorized', { 'www-authenticate': 'Bearer' });
    }
    const position = `webhook:${randomUUID()}`;
    try {
      const outcome = await this.coalescer.submit({ text: auth.text, source: 'webhook', position });
      return { status: 200, body: { outcome } };
    } catch (err) {
      if (isRetryable(err)) throw new HttpError(503, 'state store unavailable', { 'retry-after': '5' });
      throw err;
    }
  };

  /** Answers every request already accepted (graceful stop). */
  close(): Promise<void> {
    return this.coalescer.close();
  }
}
