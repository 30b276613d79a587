import type { EventKind, NormalisedEvent } from './records.js';
import { normalise } from './normalise.js';
import { IntakeProblem, type QuarantineReason } from './reasons.js';

/** The verdict of intake on one message. Every message gets exactly one. */
export type Verdict =
  | { outcome: 'valid'; kind: EventKind; record: NormalisedEvent }
  | { outcome: 'ignored'; eventName: string }
  | { outcome: 'quarantined'; reason: QuarantineReason; detail: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Finds how an id was written in the raw text, for the detail of an unsafe_integer_id. */
function rawDigitsIn(text: string) {
  return (path: string): string | undefined => {
    const key = path.slice(path.lastIndexOf('.') + 1);
    const m = new RegExp(`"${key}"\\s*:\\s*(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)`).exec(text);
    return m?.[1];
  };
}

/** Intake of a decoded value: a Canvas envelope {metadata, body} or the Kinesis {attributes, body}. */
export function intakeValue(value: unknown, text?: string): Verdict {
  if (!isObject(value)) {
    return { outcome: 'quarantined', reason: 'not_an_event', detail: 'the message is not a JSON object' };
  }
  const metadata = value['metadata'] ?? value['attributes'];
  const body = value['body'];
  if (!isObject(metadata) || !isObject(body)) {
    return {
      outcome: 'quarantined',
      reason: 'not_an_event',
      detail: 'the message has no "metadata" (or "attributes") object and "body" object',
    };
  }
  try {
    const c = normalise(metadata, body, text === undefined ? undefined : rawDigitsIn(text));
    if ('ignored' in c) return { outcome: 'ignored', eventName: c.ignored };
    return { outcome: 'valid', kind: c.kind, record: c.record };
  } catch (err) {
    if (err instanceof IntakeProblem) return { outcome: 'quarantined', reason: err.reason, detail: err.detail };
    throw err;
  }
}

/** Intake of a message's text: an SQS Body, a Kafka JSON value, a webhook body, a replay line. */
export function intakeText(text: string): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { outcome: 'quarantined', reason: 'malformed_json', detail: `not JSON: ${why}` };
  }
  return intakeValue(value, text);
}
