import { intakeText, type Verdict } from '../intake/index.js';
import type { NormalisedEvent } from '../intake/records.js';
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
   * The message as received. Only a quarantined message's text is read (it is kept as the raw text), so
   * a source that passes a `verdict` other than quarantined may leave it empty (replay does).
   */
  text: string;
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
}

export interface IngestOptions {
  metrics?: IntakeMetrics;
  /** epoch ms; the receipt time of quarantined messages and the reference for event lag */
  now?: () => number;
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
 * Not itself async: what it was given is not kept while the store works unless metrics need it
 * afterwards (what lives across the wait outlives the young generation, and costs collections).
 */
export function ingest(store: StateStore, messages: readonly Message[], options: IngestOptions = {}): Promise<IngestResult> {
  try {
    const now = (options.now ?? Date.now)();
    const verdicts = messages.map((m) => m.verdict ?? intakeText(m.text));
    const outcomes: MessageOutcome[] = new Array<MessageOutcome>(messages.length);
    const records: NormalisedEvent[] = [];
    const recordAt: number[] = []; // message index of each record
    const quarantine: QuarantineEntry[] = [];
    for (let i = 0; i < messages.length; i++) {
      const v = verdicts[i]!;
      if (v.outcome === 'valid') {
        records.push(v.record);
        recordAt.push(i);
      } else if (v.outcome === 'ignored') {
        outcomes[i] = 'ignored';
      } else {
        const m = messages[i]!;
        outcomes[i] = 'quarantined';
        quarantine.push({ source: m.source, position: m.position, reason: v.reason, detail: v.detail, raw: m.text, received_at: now });
      }
    }
    const folded = records.length > 0 || quarantine.length > 0 ? store.apply({ records, quarantine }) : Promise.resolve([]);
    const counted = options.metrics === undefined ? undefined : { metrics: options.metrics, messages, verdicts, now };
    return settle(folded, outcomes, recordAt, counted);
  } catch (err) {
    return Promise.reject(err);
  }
}

async function settle(
  folded: Promise<readonly MessageOutcome[]>,
  outcomes: MessageOutcome[],
  recordAt: readonly number[],
  counted: { metrics: IntakeMetrics; messages: readonly Message[]; verdicts: readonly Verdict[]; now: number } | undefined,
): Promise<IngestResult> {
  (await folded).forEach((o, j) => (outcomes[recordAt[j]!] = o));
  const counts = zeroCounts();
  counts.received = outcomes.length;
  for (const o of outcomes) counts[o] += 1;

  // Counted after the commit: a batch that failed and is redelivered is not counted twice.
  if (counted !== undefined) {
    const { metrics, messages, verdicts, now } = counted;
    verdicts.forEach((v, i) => {
      const m = messages[i]!;
      const event =
        v.outcome === 'valid' ? v.kind : v.outcome === 'ignored' ? eventLabel(v.eventName) : eventNameOf(m.text);
      metrics.events.inc({ source: m.source, event, outcome: outcomes[i]! });
      if (v.outcome === 'quarantined') metrics.quarantined.inc({ reason: v.reason });
      if (v.outcome === 'valid') metrics.eventLag.observe({ source: m.source }, Math.max(0, now - v.record.instant) / 1000);
    });
  }
  return { counts, outcomes };
}
