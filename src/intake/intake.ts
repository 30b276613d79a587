import { isUtf8 } from 'node:buffer';
import type { EventKind, NormalisedEvent } from './records.js';
import { normalise } from './normalise.js';
import { IntakeProblem, type QuarantineReason } from './reasons.js';
import { formatInstant } from './timestamps.js';
import { firstInvalidUtf8 } from './utf8.js';

/** The verdict of intake on one message. Every message gets exactly one. */
export type Verdict =
  | { outcome: 'valid'; kind: EventKind; record: NormalisedEvent }
  | { outcome: 'ignored'; eventName: string }
  | { outcome: 'quarantined'; reason: QuarantineReason; detail: string };

export interface IntakeOptions {
  /** When the message was received, epoch ms (default: now): what an event instant may not be far ahead of. */
  receivedAt?: number;
  /** How far an event instant may be ahead of receipt, ms (default 24 h, GRADESTREAM_MAX_FUTURE_SECONDS). */
  maxFutureMs?: number;
}

export const DEFAULT_MAX_FUTURE_MS = 24 * 3_600_000;

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

/** What escaped the readers: a bug, but one message's, so it is quarantined rather than thrown. */
function internal(err: unknown): Verdict {
  const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { outcome: 'quarantined', reason: 'internal_error', detail: `intake failed: ${why.slice(0, 500)}` };
}

/**
 * An event whose instant is further ahead of its receipt than the bound would win its key against every
 * real event until that time comes (a producer's clock set years ahead): refused, so it cannot.
 */
function tooFarAhead(record: NormalisedEvent, options: IntakeOptions): Verdict | undefined {
  const receivedAt = options.receivedAt ?? Date.now();
  const bound = options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const latest = receivedAt + bound;
  const [path, instant] =
    record.event_time > latest ? ['metadata.event_time', record.event_time]
    : record.instant > latest ? ['body.updated_at', record.instant]
    : [undefined, 0];
  if (path === undefined) return undefined;
  return {
    outcome: 'quarantined',
    reason: 'future_timestamp',
    detail: `${path}: ${formatInstant(instant)} is more than ${bound / 1000} s after receipt (${formatInstant(receivedAt)})`,
  };
}

/**
 * Intake of a decoded value: a Canvas envelope {metadata, body} or the Kinesis {attributes, body}.
 * Never throws: every value gets a verdict.
 */
export function intakeValue(value: unknown, text?: string, options: IntakeOptions = {}): Verdict {
  try {
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
    const c = normalise(metadata, body, text === undefined ? undefined : rawDigitsIn(text), text);
    if ('ignored' in c) return { outcome: 'ignored', eventName: c.ignored };
    return tooFarAhead(c.record, options) ?? { outcome: 'valid', kind: c.kind, record: c.record };
  } catch (err) {
    if (err instanceof IntakeProblem) return { outcome: 'quarantined', reason: err.reason, detail: err.detail };
    return internal(err);
  }
}

/** Intake of a message's text: an SQS Body, a Kafka JSON value, a webhook body, a replay line. Never throws. */
export function intakeText(text: string, options: IntakeOptions = {}): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (!(err instanceof SyntaxError)) return internal(err);
    return { outcome: 'quarantined', reason: 'malformed_json', detail: `not JSON: ${err.message.slice(0, 300)}` };
  }
  return intakeValue(value, text, options);
}

/** Intake of a message's bytes: UTF-8 or quarantined as invalid_utf8 (never decoded with replacement characters). */
export function intakeBytes(bytes: Uint8Array, options: IntakeOptions = {}): Verdict {
  if (!isUtf8(bytes)) return invalidUtf8(bytes);
  return intakeText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), options);
}

export function invalidUtf8(bytes: Uint8Array): Verdict {
  const at = firstInvalidUtf8(bytes);
  const shown = Buffer.from(bytes.subarray(at, at + 4)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
  return { outcome: 'quarantined', reason: 'invalid_utf8', detail: `byte ${at} is not valid UTF-8 (${shown}); the bytes are kept as received` };
}
