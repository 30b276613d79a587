import { randomUUID } from 'node:crypto';
import { isRetryable } from '../errors.js';
import type { QuarantineReason } from '../intake/index.js';
import type { Logger } from '../log.js';
import { HttpError } from '../service/http-error.js';
import { EVENTS_BODY_LIMIT } from '../service/limits.js';
import type { StateStore } from '../state/store.js';
import { Coalescer } from './coalescer.js';
import { ingest, type IngestOptions, type Message, type MessageOutcome } from './ingest.js';
import type { Refusal, WebhookAuthenticator, WebhookCredentials, WebhookRequest } from './webhook-auth.js';

/**
 * `POST /events` (SPEC §1.1, §7.3): one Canvas message per request. The answer is 2xx only after the
 * event is durably folded or quarantined (quarantined is a final answer too: re-sending the same bad
 * message cannot help). 401 for an unauthentic delivery, nothing folded; 503 while the store or the
 * JWKS is unavailable, so the sender retries. Whatever the bytes of an authentic delivery, they end
 * folded, ignored or quarantined (intake never throws): never a 5xx for the sender's bytes.
 * The route itself (body read as bytes, the limit, the check before the body) is src/service/events.ts.
 */
export interface WebhookOptions extends IngestOptions {
  store: StateStore;
  auth: WebhookAuthenticator;
  log: Logger;
  /** The largest body accepted, bytes (default EVENTS_BODY_LIMIT); more is answered 413. */
  bodyLimit?: number;
  batch?: { maxItems: number; maxDelayMs: number };
}

export interface WebhookAnswer {
  status: number;
  /** `reason`: a quarantined event's reason code (README "Quarantine reasons"), so a sender can see why. */
  body: { outcome: MessageOutcome; reason?: QuarantineReason };
}

export class WebhookSource {
  readonly bodyLimit: number;
  private readonly coalescer: Coalescer<Message, { outcome: MessageOutcome; reason: QuarantineReason | null }>;

  constructor(private readonly options: WebhookOptions) {
    this.bodyLimit = options.bodyLimit ?? EVENTS_BODY_LIMIT;
    this.coalescer = new Coalescer(
      async (messages) => {
        const { outcomes, reasons } = await ingest(options.store, messages, options);
        return outcomes.map((outcome, i) => ({ outcome, reason: reasons[i] ?? null }));
      },
      options.batch ?? { maxItems: 200, maxDelayMs: 2 },
    );
  }

  /** The HttpError refusing a delivery on its headers and query alone (before its body is read), or undefined. */
  refuseEarly(req: WebhookCredentials): HttpError | undefined {
    const refused = this.options.auth.refuseEarly(req);
    return refused === undefined ? undefined : this.refusal(refused);
  }

  /** One delivery's answer (200 with the outcome), or throws the HttpError of a refusal or an unavailable store. */
  readonly handle = async (req: WebhookRequest): Promise<WebhookAnswer> => {
    const auth = await this.options.auth.authenticate(req);
    if (!auth.ok) throw this.refusal(auth);
    const position = `webhook:${randomUUID()}`;
    try {
      const { outcome, reason } = await this.coalescer.submit({ text: auth.text, bytes: auth.bytes, source: 'webhook', position });
      return { status: 200, body: reason === null ? { outcome } : { outcome, reason } };
    } catch (err) {
      if (isRetryable(err)) throw new HttpError(503, 'state store unavailable', { 'retry-after': '5' });
      throw err;
    }
  };

  private refusal(auth: Refusal): HttpError {
    this.options.log.warn({ why: auth.why }, 'webhook delivery refused');
    if (auth.retryable) return new HttpError(503, 'cannot verify signatures right now', { 'retry-after': '5' });
    return new HttpError(401, 'unauthorized', { 'www-authenticate': 'Bearer' });
  }

  /** Answers every request already accepted (graceful stop). */
  close(): Promise<void> {
    return this.coalescer.close();
  }
}
