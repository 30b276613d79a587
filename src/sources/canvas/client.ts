import type { z } from 'zod';
import { ConfigError, GradestreamError, InternalError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { Backoff, errorMessage, sleep as defaultSleep, type BackoffOptions } from '../backoff.js';
import {
  CanvasNotFoundError,
  CanvasRequestError,
  CanvasResponseError,
  CanvasUnauthorizedError,
  CanvasUnavailableError,
} from './errors.js';
import { Gate } from './gate.js';
import { parseHttpDate } from './http-date.js';
import { nextLink } from './link-header.js';

/**
 * Canvas's REST API, read-only (SPEC §8). Every request:
 * - sends `Authorization: Bearer TOKEN`, `Accept: application/json+canvas-string-ids` (Canvas then
 *   writes every `id` / `*_id` integer as a string: ids exceed 2^53 — lib/api.rb stringify_json_ids),
 *   a User-Agent naming gradestream, and gives up after `timeoutMs`;
 * - waits for one of `concurrency` places shared by every call of this client;
 * - is retried with exponential backoff and jitter (src/sources/backoff.ts) when Canvas throttles
 *   (403 "Rate Limit Exceeded", or 429: https://developerdocs.instructure.com/services/canvas/basics/file.throttling),
 *   answers 5xx, times out or cannot be reached, up to `attempts`, then fails with CanvasUnavailableError;
 *   a Retry-After is honoured (up to MAX_RETRY_AFTER_MS);
 * - fails at once on 401 (CanvasUnauthorizedError), 404 (CanvasNotFoundError), any other non-2xx
 *   (CanvasRequestError; redirects are not followed, so the token never follows one), and on a body that
 *   is not JSON or not the documented shape (CanvasResponseError).
 *
 * Pacing: Canvas's quota is a leaky bucket and parallel requests pay a pre-flight penalty (the
 * throttling page above). When an answer's X-Rate-Limit-Remaining is below `lowRemaining` (100), the
 * client goes one request at a time and waits before each, longer the lower the quota; it returns to
 * `concurrency` once the quota recovers.
 *
 * Time: each answer carries `date`, the instant of its `Date` header (Canvas's clock), which the
 * reconciliation folds at. A missing or unreadable Date header, or one more than `maxFutureMs` ahead of
 * this machine's clock (a bad clock must not pin keys, as SPEC §1.4 guards for events), gives the local
 * receive time instead, counted in `stats.dateFallbacks` and logged.
 */

export interface CanvasClientOptions {
  /** The Canvas instance, e.g. https://school.instructure.com (plain http only to a loopback host). */
  baseUrl: string;
  /** GRADESTREAM_CANVAS_TOKEN: sent only to baseUrl's origin, never logged. */
  token: string;
  /** Requests in flight at once across all calls (default 4). */
  concurrency?: number;
  /** Attempts per request, the first included (default 6). */
  attempts?: number;
  /** Delays between attempts (default 500 ms doubling to 30 s, equal jitter). */
  backoff?: BackoffOptions;
  fetch?: typeof fetch;
  log?: Logger;
  /** Called as each HTTP request is sent (retries included), e.g. for a metric. */
  onRequest?: () => void;
  /** Per attempt, headers and body (default 30,000 ms). */
  timeoutMs?: number;
  /** Below this X-Rate-Limit-Remaining the client slows down (default 100). */
  lowRemaining?: number;
  /** A Date header further ahead of the local clock than this is not believed (default 24 h). */
  maxFutureMs?: number;
  /** The largest body read (default 32 MiB): a larger one is a CanvasResponseError. */
  maxBodyBytes?: number;
  /** For tests: how waits happen (default setTimeout), the jitter source, the local clock. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => number;
}

/** What a read cost, for the closing report. */
export interface CanvasStats {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Requests sent again after a failure (throttled, 5xx, network). */
  retries: number;
  /** Answers that were throttling (403 Rate Limit Exceeded, 429). */
  throttled: number;
  /** Requests delayed and serialised because X-Rate-Limit-Remaining was low. */
  slowdowns: number;
  /** Answers whose Date header was missing, unreadable or too far ahead: local time used instead. */
  dateFallbacks: number;
}

export interface Dated<T> {
  body: T;
  /** Epoch ms of the answer's Date header (see dateFallbacks). */
  date: number;
}

/** An item of a page that does not match its schema: reported, never folded. */
export interface RejectedItem {
  /** Position in its page (0-based). */
  index: number;
  /** Which field and why, without the field's value. */
  problem: string;
}

export interface Page<T> {
  items: T[];
  rejected: RejectedItem[];
  /** Epoch ms of this page's Date header. */
  date: number;
}

export type QueryValue = string | number | boolean | readonly string[] | undefined;
/** Query parameters; an array repeats its key, which should then end in [] (`type[]`). */
export type Query = Readonly<Record<string, QueryValue>>;

export interface PagesOptions {
  /** The list is under this key of an object body (`{"grading_periods": [...]}`), not the body itself. */
  key?: string;
}

const ACCEPT = 'application/json+canvas-string-ids';
const USER_AGENT = 'gradestream (Canvas reconciliation)';
/** Canvas caps per_page (Api::MAX_PER_PAGE is 100 on Instructure's hosting). */
export const PER_PAGE = 100;
const MAX_RETRY_AFTER_MS = 120_000;
const MAX_PAGES = 100_000;
const EXCERPT_CHARS = 120;
const ERROR_BODY_BYTES = 8 * 1024;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export class CanvasClient {
  /** The origin requests go to, e.g. https://school.instructure.com. */
  readonly origin: string;
  private readonly token: string;
  private readonly concurrency: number;
  private readonly attempts: number;
  private readonly backoffOptions: BackoffOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly log: Logger | undefined;
  private readonly onRequest: (() => void) | undefined;
  private readonly timeoutMs: number;
  private readonly lowRemaining: number;
  private readonly maxFutureMs: number;
  private readonly maxBodyBytes: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly gate: Gate;
  private readonly counts: CanvasStats = { requests: 0, retries: 0, throttled: 0, slowdowns: 0, dateFallbacks: 0 };
  /** The last X-Rate-Limit-Remaining Canvas sent (null until one is seen). */
  private remaining: number | null = null;

  constructor(options: CanvasClientOptions) {
    this.origin = canvasOrigin(options.baseUrl);
    if (typeof options.token !== 'string' || options.token.trim() === '' || /[\r\n]/.test(options.token)) {
      throw new ConfigError(['GRADESTREAM_CANVAS_TOKEN is empty or not a single line']);
    }
    this.token = options.token.trim();
    this.concurrency = positiveInteger(options.concurrency, 4);
    this.attempts = positiveInteger(options.attempts, 6);
    this.backoffOptions = options.backoff ?? {};
    this.fetchImpl = options.fetch ?? globalThis.fetch;
    this.log = options.log;
    this.onRequest = options.onRequest;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.lowRemaining = options.lowRemaining ?? 100;
    this.maxFutureMs = options.maxFutureMs ?? 24 * 3600_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
    this.sleep = options.sleep ?? ((ms) => defaultSleep(ms));
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.gate = new Gate(() => (this.quotaLow() ? 1 : this.concurrency));
  }

  /** A copy of the counters so far. */
  get stats(): CanvasStats {
    return { ...this.counts };
  }

  /** The most requests this client ever had in flight at once. */
  get peakInFlight(): number {
    return this.gate.peak;
  }

  /** One object (GET path?query), checked against `schema`; its shape wrong → CanvasResponseError. */
  async get<T>(path: string, query: Query, schema: z.ZodType<T>): Promise<Dated<T>> {
    const url = this.url(path, query);
    const answer = await this.fetchJson(url);
    const parsed = schema.safeParse(answer.json);
    if (!parsed.success) throw new CanvasResponseError(url.pathname, describeIssues(parsed.error));
    return { body: parsed.data, date: answer.date };
  }

  /**
   * Every page of a list, following `Link: <…>; rel="next"` (with per_page=100) until there is none.
   * Each item is checked against `itemSchema` on its own: one that does not match is reported in the
   * page's `rejected` and the others are kept. A body that is not a list, or a next link to another
   * origin (the token is never sent there), one already visited, or one that is not a URL, is a
   * CanvasResponseError: a read is never silently cut short.
   */
  async *pages<T>(path: string, query: Query, itemSchema: z.ZodType<T>, options: PagesOptions = {}): AsyncGenerator<Page<T>> {
    let url: URL | null = this.url(path, { ...query, per_page: String(PER_PAGE) });
    const first = url.pathname;
    const visited = new Set<string>();
    while (url !== null) {
      if (visited.size >= MAX_PAGES) throw new CanvasResponseError(first, `more than ${MAX_PAGES} pages`);
      visited.add(url.href);
      const answer = await this.fetchJson(url);
      const list = options.key === undefined ? answer.json : ownProperty(answer.json, options.key);
      if (!Array.isArray(list)) {
        const expected = options.key === undefined ? 'a JSON array' : `an object with a "${options.key}" array`;
        throw new CanvasResponseError(url.pathname, `expected ${expected}, got ${kindOf(answer.json)}`);
      }
      const items: T[] = [];
      const rejected: RejectedItem[] = [];
      list.forEach((item: unknown, index: number) => {
        const parsed = itemSchema.safeParse(item);
        if (parsed.success) items.push(parsed.data);
        else rejected.push({ index, problem: describeIssues(parsed.error) });
      });
      if (rejected.length > 0) {
        this.log?.warn({ path: url.pathname, rejected: rejected.length }, 'Canvas items that do not match the documented shape were not read');
      }
      yield { items, rejected, date: answer.date };

      const next = nextLink(answer.link, url);
      if (next === null) break;
      if (!(next instanceof URL)) throw new CanvasResponseError(url.pathname, `its next-page link is not a URL (${JSON.stringify(next.invalid)})`);
      if (next.origin !== this.origin) {
        throw new CanvasResponseError(url.pathname, `its next-page link leads to ${next.origin}, not ${this.origin}: not followed (the token is sent only to Canvas)`);
      }
      if (visited.has(next.href)) throw new CanvasResponseError(url.pathname, 'its next-page link leads back to a page already read');
      url = next;
    }
  }

  private url(path: string, query: Query): URL {
    if (!path.startsWith('/api/v1/') || path.includes('?') || path.includes('#') || path.includes('..')) {
      throw new InternalError(`not a Canvas API path: ${path}`);
    }
    const url = new URL(path, this.origin);
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value as readonly string[]) url.searchParams.append(key, item);
      else url.searchParams.append(key, String(value));
    }
    return url;
  }

  private quotaLow(): boolean {
    return this.remaining !== null && this.remaining < this.lowRemaining;
  }

  /** Before a request while the quota is low: count it and wait, up to 4 × the first backoff delay. */
  private async pace(): Promise<void> {
    if (!this.quotaLow() || this.remaining === null) return;
    this.counts.slowdowns += 1;
    const deficit = Math.min(1, Math.max(0, (this.lowRemaining - this.remaining) / this.lowRemaining));
    const wait = Math.round((this.backoffOptions.initialMs ?? 500) * 4 * deficit);
    if (wait > 0) await this.sleep(wait);
  }

  /**
   * Canvas sends X-Rate-Limit-Remaining "if throttling is applicable to this request" (the throttling
   * page): an answer without it means no quota to watch, so the client stops slowing down.
   */
  private noteRemaining(header: string | null): void {
    if (header === null) {
      this.remaining = null;
      return;
    }
    const value = Number(header.trim());
    if (header.trim() !== '' && Number.isFinite(value)) this.remaining = value;
  }

  private dateOf(header: string | null, receivedAt: number, path: string): number {
    const date = parseHttpDate(header);
    if (date !== null && date - receivedAt <= this.maxFutureMs) return date;
    this.counts.dateFallbacks += 1;
    // The first at warn level, the rest at debug: a proxy that drops the header would drop it every time.
    const level = this.counts.dateFallbacks === 1 ? 'warn' : 'debug';
    this.log?.[level](
      { path, date: header === null ? null : header.slice(0, 64) },
      date === null
        ? 'Canvas answered without a readable Date header: the local receive time is used instead'
        : 'Canvas answered with a Date too far ahead of this machine: the local receive time is used instead',
    );
    return receivedAt;
  }

  /** One GET with its retries; the parsed JSON, the Date instant and the Link header. */
  private async fetchJson(url: URL): Promise<{ json: unknown; date: number; link: string | null }> {
    const path = url.pathname;
    const backoff = new Backoff(this.backoffOptions, this.random);
    for (let attempt = 1; ; attempt++) {
      await this.pace();
      let problem: string;
      let retryAfterMs = 0;
      let cause: unknown;
      const release = await this.gate.acquire();
      try {
        this.counts.requests += 1;
        this.onRequest?.();
        this.log?.debug({ path, attempt }, 'Canvas GET');
        const signal = AbortSignal.timeout(this.timeoutMs);
        const response = await this.fetchImpl(url, {
          method: 'GET',
          headers: { authorization: `Bearer ${this.token}`, accept: ACCEPT, 'user-agent': USER_AGENT },
          redirect: 'manual',
          signal,
        });
        const receivedAt = this.now();
        this.noteRemaining(response.headers.get('x-rate-limit-remaining'));
        const status = response.status;
        if (status >= 200 && status < 300) {
          const bytes = await readBody(response, this.maxBodyBytes, path);
          const date = this.dateOf(response.headers.get('date'), receivedAt, path);
          release();
          return { json: parseJson(bytes, path), date, link: response.headers.get('link') };
        }
        const text = await readErrorText(response);
        if (status === 401) throw new CanvasUnauthorizedError(path);
        if (status === 404) throw new CanvasNotFoundError(path);
        if (status === 429 || (status === 403 && /rate limit exceeded/i.test(text))) {
          this.counts.throttled += 1;
          problem = `throttled (HTTP ${status} Rate Limit Exceeded)`;
          retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.now());
        } else if (status >= 500) {
          problem = `HTTP ${status}${message(text)}`;
          retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.now());
        } else if (status >= 300 && status < 400) {
          throw new CanvasRequestError(
            path,
            status,
            `Canvas answered GET ${path} with a redirect (HTTP ${status}) to ${redirectOrigin(response, url)}; not followed: give the Canvas address it names`,
          );
        } else {
          throw new CanvasRequestError(path, status, `Canvas refused GET ${path} (HTTP ${status}${message(text)})`);
        }
      } catch (err) {
        if (err instanceof GradestreamError) throw err;
        problem = networkProblem(err);
        cause = err;
      } finally {
        release();
      }
      if (attempt >= this.attempts) throw new CanvasUnavailableError(path, attempt, problem, { cause });
      this.counts.retries += 1;
      const wait = Math.max(backoff.next(), Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
      this.log?.warn({ path, attempt, problem, waitMs: wait }, 'Canvas request failed; retrying');
      await this.sleep(wait);
    }
  }
}

/** The origin of a Canvas base URL: https, or http to a loopback host only (the token is a secret). */
export function canvasOrigin(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConfigError([`--canvas-url: ${JSON.stringify(String(baseUrl).slice(0, 200))} is not a URL`]);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError(['--canvas-url: credentials go in GRADESTREAM_CANVAS_TOKEN, not in the URL']);
  if (url.search !== '' || url.hash !== '') throw new ConfigError(['--canvas-url: give the Canvas address only, without ?query or #fragment']);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname))) return url.origin;
  if (url.protocol === 'http:') throw new ConfigError(['--canvas-url: plain http:// is allowed only to localhost; the token must not cross a network unencrypted']);
  throw new ConfigError(['--canvas-url: expected https://…']);
}

function positiveInteger(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isInteger(value) && value >= 1 ? value : fallback;
}

async function readBody(response: Response, limit: number, path: string): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array();
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body.cancel().catch(() => undefined);
    throw new CanvasResponseError(path, `its body (${declared} bytes) is larger than ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new CanvasResponseError(path, `its body is larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Up to ERROR_BODY_BYTES of an error answer, as text; never throws. */
async function readErrorText(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // a body that breaks off still leaves the status to report
  }
  await reader.cancel().catch(() => undefined);
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES));
}

/** JSON from bytes: strict UTF-8; Canvas's `while(1);` guard prefix (session-cookie answers) is dropped. */
function parseJson(bytes: Uint8Array, path: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CanvasResponseError(path, 'its body is not UTF-8');
  }
  const body = text.startsWith('while(1);') ? text.slice('while(1);'.length) : text;
  try {
    return JSON.parse(body);
  } catch {
    throw new CanvasResponseError(path, `its body is not JSON (it begins ${excerpt(body)})`);
  }
}

/** A short, single-line, printable excerpt of text from outside. */
function excerpt(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.slice(0, EXCERPT_CHARS * 2).replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ').trim();
  const cut = line.length > EXCERPT_CHARS ? `${line.slice(0, EXCERPT_CHARS)}…` : line;
  return JSON.stringify(cut);
}

/** Canvas's own words from an error body (`{"errors":[{"message":…}]}`, `{"message":…}`), short. */
function message(text: string): string {
  if (text.trim() === '') return '';
  let words = text;
  try {
    const json = JSON.parse(text) as unknown;
    const errors = ownProperty(json, 'errors');
    const first = Array.isArray(errors) ? (errors[0] as unknown) : undefined;
    const found = [ownProperty(first, 'message'), ownProperty(json, 'message'), ownProperty(json, 'error'), typeof errors === 'string' ? errors : undefined].find(
      (v): v is string => typeof v === 'string' && v !== '',
    );
    if (found !== undefined) words = found;
  } catch {
    // not JSON: the text itself
  }
  return `: ${excerpt(words)}`;
}

function ownProperty(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return Object.prototype.hasOwnProperty.call(value, key) ? (value as Record<string, unknown>)[key] : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Retry-After in seconds or as an HTTP date; 0 when absent or unreadable. */
function parseRetryAfter(value: string | null, now: number): number {
  if (value === null) return 0;
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
  const at = parseHttpDate(text);
  return at === null ? 0 : Math.max(0, at - now);
}

function redirectOrigin(response: Response, requested: URL): string {
  try {
    return new URL(response.headers.get('location') ?? '', requested).origin;
  } catch {
    return 'an unreadable location';
  }
}

function networkProblem(err: unknown): string {
  const error = err as (Error & { cause?: { code?: unknown; message?: unknown } }) | null;
  if (error?.name === 'TimeoutError' || error?.name === 'AbortError') return 'timed out';
  const code = error?.cause?.code;
  const detail = typeof code === 'string' ? code : typeof error?.cause?.message === 'string' ? error.cause.message : undefined;
  return `${errorMessage(err)}${detail === undefined ? '' : ` (${detail})`}`;
}

/** The first few schema problems, by field path, without the values (they are grades). */
export function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const where = issue.path.length === 0 ? '(the body)' : issue.path.map(String).join('.');
    return `${where}: ${issue.message}`;
  });
  const more = error.issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}
