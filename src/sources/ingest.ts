import { isRetryable } from '../errors.js';
import { intakeBytes, intakeText, type IntakeOptions, type QuarantineReason, type Verdict } from '../intake/index.js';
import type { NormalisedEvent } from '../intake/records.js';
import type { Logger } from '../log.js';
import { eventLabel, type IntakeMetrics } from '../metrics.js';
import type { QuarantineEntry, SourceName, StateStore } from '../state/store.js';

/**
 * The pipeline every source shares (replay, SQS, Kafka, webhook): intake on each message, then one
 * store transaction for the whole batch — valid records folded, invalid messages quarantined with
 * their raw text and position. Every message ends applied, stale, duplicate, ignored or quarantined;
 * nothing is dropped. A source acknowledges the batch only after this resolves; if it throws (e.g.
 * StoreUnavailableError), nothing was written and the batch is redelivered.
 */

export interface Message {
  /**
   * The message as received, as text. Only a quarantined message's text is read (it is kept as the raw
   * text), so a source that passes a `verdict` other than quarantined may leave it empty (replay does).
   */
  text: string;
  /** The message as received, as bytes, when it came as bytes (a webhook body): intake checks they are UTF-8, and a quarantine keeps them exactly. */
  bytes?: Uint8Array;
  source: SourceName;
  /** where the message can be found again: "file:line", SQS message id, "topic/partition/offset" */
  position: string;
  /** A verdict the source already reached (an Avro value decoded by the Kafka source); else intake runs on `text`. */
  verdict?: Verdict;
}

export type MessageOutcome = 'applied' | 'stale' | 'duplicate' | 'ignored' | 'quarantined';

export interface IngestCounts {
  received: number;
  applied: number;
  stale: number;
  duplicate: number;
  ignored: number;
  quarantined: number;
}

export interface IngestResult {
  counts: IngestCounts;
  /** one per message, in input order (a webhook answers each request with its own) */
  outcomes: MessageOutcome[];
  /** one per message: the quarantine reason of a quarantined one, else null */
  reasons: (QuarantineReason | null)[];
}

export interface IngestOptions {
  metrics?: IntakeMetrics;
  /** epoch ms; the receipt time of quarantined messages and the reference for event lag and future timestamps */
  now?: () => number;
  /** How far ahead of receipt an event instant may be, ms (default 24 h): see IntakeOptions. */
  maxFutureMs?: number;
  /** Where, at debug level, the names of ignored events counted as `other` are told (with metrics). */
  log?: Logger;
}

export const zeroCounts = (): IngestCounts => ({ received: 0, applied: 0, stale: 0, duplicate: 0, ignored: 0, quarantined: 0 });

export function addCounts(total: IngestCounts, more: IngestCounts): void {
  for (const key of Object.keys(total) as (keyof IngestCounts)[]) total[key] += more[key];
}

/** The event_name of a message that failed intake, for the metric label only. */
function eventNameOf(text: string): string {
  try {
    const value = JSON.parse(text) as { metadata?: { event_name?: unknown }; attributes?: { event_name?: unknown } };
    const name = value?.metadata?.event_name ?? value?.attributes?.event_name;
    return typeof name === 'string' ? eventLabel(name) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Intake on every message that has no verdict yet, then one store transaction for the batch. The
 * batch's records and messages are kept while the store works: should it fail on one of them, the
 * batch is applied again in parts (see `isolating`).
 */
export function ingest(store: StateStore, messages: readonly Message[], options: IngestOptions = {}): Promise<IngestResult> {
  try {
    const now = (options.now ?? Date.now)();
    const intake: IntakeOptions = { receivedAt: now, maxFutureMs: options.maxFutureMs };
    const verdicts = messages.map((m) => m.verdict ?? (m.bytes !== undefined ? intakeBytes(m.bytes, intake) : intakeText(m.text, intake)));
    const outcomes: MessageOutcome[] = new Array<MessageOutcome>(messages.length);
    const records: NormalisedEvent[] = [];
    const recordAt: number[] = []; // message index of each record
    const quarantine: QuarantineEntry[] = [];
    const quarantineAt: number[] = []; // message index of each quarantine entry
    for (let i = 0; i < messages.length; i++) {
      const v = verdicts[i]!;
      if (v.outcome === 'valid') {
        records.push(v.record);
        recordAt.push(i);
      } else if (v.outcome === 'ignored') {
        outcomes[i] = 'ignored';
      } else {
        quarantine.push(entry(messages[i]!, v.reason, v.detail, now));
        quarantineAt.push(i);
      }
    }
    const folded =
      records.length > 0 || quarantine.length > 0
        ? isolating(store, { records, recordAt, quarantine, quarantineAt }, messages, verdicts, now)
        : Promise.resolve([]);
    const counted = options.metrics === undefined ? undefined : { metrics: options.metrics, log: options.log, messages, now };
    return settle(folded, outcomes, verdicts, counted);
  } catch (err) {
    return Promise.reject(err);
  }
}

const entry = (m: Message, reason: QuarantineReason, detail: string, now: number): QuarantineEntry => ({
  source: m.source,
  position: m.position,
  reason,
  detail,
  raw: m.bytes ?? m.text,
  received_at: now,
});

/** The part of a batch handed to the store, each item with the index of its message. */
interface Part {
  records: NormalisedEvent[];
  recordAt: number[];
  quarantine: QuarantineEntry[];
  quarantineAt: number[];
}

/**
 * Applies a part and answers each of its messages' outcome by index. A store failure that is not a
 * passing one (retryable: the store is unavailable, the whole batch is redelivered) may be one message's
 * doing: the part is split in halves, applied one after the other, down to the message at fault, which
 * is quarantined as internal_error with the store's error, so that its neighbours are folded and the
 * source moves on. If even that quarantine fails, the store is broken: the error is thrown.
 * `verdicts` is updated for a message so quarantined (its metrics count the new reason).
 */
async function isolating(
  store: StateStore,
  part: Part,
  messages: readonly Message[],
  verdicts: Verdict[],
  now: number,
): Promise<[index: number, outcome: MessageOutcome][]> {
  try {
    const outcomes = await store.apply({ records: part.records, quarantine: part.quarantine });
    return [
      ...part.recordAt.map((at, j) => [at, outcomes[j]!] as [number, MessageOutcome]),
      ...part.quarantineAt.map((at) => [at, 'quarantined'] as [number, MessageOutcome]),
    ];
  } catch (err) {
    if (isRetryable(err)) throw err;
    const size = part.recordAt.length + part.quarantineAt.length;
    if (size === 1) {
      const at = part.recordAt[0] ?? part.quarantineAt[0]!;
      const kept = failedEntry(messages[at]!, part.records[0], err, now);
      await store.apply({ records: [], quarantine: [kept] });
      verdicts[at] = { outcome: 'quarantined', reason: 'internal_error', detail: kept.detail };
      return [[at, 'quarantined']];
    }
    const [first, second] = halves(part);
    return [...(await isolating(store, first, messages, verdicts, now)), ...(await isolating(store, second, messages, verdicts, now))];
  }
}

/**
 * The quarantine entry of a message the store failed on. A source that passed a verdict may have left
 * its text empty (replay, Avro): the normalised record is kept then, and the position says where the
 * message is. A quarantine entry that itself failed is kept with its bytes as base64 text.
 */
function failedEntry(m: Message, record: NormalisedEvent | undefined, err: unknown, now: number): QuarantineEntry {
  const detail = `the state store failed on this message: ${errorText(err)}`;
  if (record === undefined) {
    const raw = Buffer.from(m.bytes ?? Buffer.from(m.text)).toString('base64');
    return { ...entry(m, 'internal_error', `${detail} (raw: the message's bytes in base64)`, now), raw };
  }
  if (m.bytes === undefined && m.text === '') {
    return { ...entry(m, 'internal_error', `${detail} (raw: the normalised record; the message is at its position)`, now), raw: JSON.stringify(record) };
  }
  return entry(m, 'internal_error', detail, now);
}

/** A part split in two, by message order. */
function halves(part: Part): [Part, Part] {
  const ats = [...part.recordAt, ...part.quarantineAt].sort((a, b) => a - b);
  const cut = ats[Math.ceil(ats.length / 2)]!; // the first message of the second half
  const pick = (keep: (at: number) => boolean): Part => {
    const r = part.recordAt.flatMap((at, j) => (keep(at) ? [j] : []));
    const q = part.quarantineAt.flatMap((at, j) => (keep(at) ? [j] : []));
    return {
      records: r.map((j) => part.records[j]!),
      recordAt: r.map((j) => part.recordAt[j]!),
      quarantine: q.map((j) => part.quarantine[j]!),
      quarantineAt: q.map((j) => part.quarantineAt[j]!),
    };
  };
  return [pick((at) => at < cut), pick((at) => at >= cut)];
}

const errorText = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 500);

async function settle(
  folded: Promise<readonly [number, MessageOutcome][]>,
  outcomes: MessageOutcome[],
  verdicts: readonly Verdict[],
  counted: { metrics: IntakeMetrics; log?: Logger; messages: readonly Message[]; now: number } | undefined,
): Promise<IngestResult> {
  for (const [at, o] of await folded) outcomes[at] = o;
  // Read after the fold: a message the store failed on was re-quarantined as internal_error.
  const reasons = verdicts.map((v, i) => (outcomes[i] === 'quarantined' && v.outcome === 'quarantined' ? v.reason : null));
  const counts = zeroCounts();
  counts.received = outcomes.length;
  for (const o of outcomes) counts[o] += 1;

  // Counted after the commit: a batch that failed and is redelivered is not counted twice.
  if (counted !== undefined) {
    const { metrics, log, messages, now } = counted;
    const debug = log?.isLevelEnabled('debug') === true;
    verdicts.forEach((v, i) => {
      const m = messages[i]!;
      const event =
        v.outcome === 'valid' ? v.kind : v.outcome === 'ignored' ? eventLabel(v.eventName) : eventNameOf(m.text);
      // A name counted as `other` is told here only: the metric's labels are a fixed set.
      if (debug && v.outcome === 'ignored' && event === 'other') log!.debug({ source: m.source, position: m.position, event_name: v.eventName.slice(0, 200) }, 'ignored an event of another kind');
      metrics.events.inc({ source: m.source, event, outcome: outcomes[i]! });
      if (v.outcome === 'quarantined') metrics.quarantined.inc({ reason: v.reason });
      if (v.outcome === 'valid' && outcomes[i] !== 'quarantined') metrics.eventLag.observe({ source: m.source }, Math.max(0, now - v.record.instant) / 1000);
    });
  }
  return { counts, outcomes, reasons };
}
