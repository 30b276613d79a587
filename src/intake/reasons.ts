import { z } from 'zod';

/**
 * Why a message was quarantined. The codes are part of the contract (README "Quarantine reasons"):
 * operators alert and filter on them, so never rename one.
 */
export const quarantineReasons = [
  'malformed_json', // the text is not JSON
  'not_an_event', // JSON, but no metadata/body objects, or no event_name and no recognisable shape
  'invalid_field', // a field of a grade event is missing, of the wrong type, or out of range
  'timestamp_without_offset', // an ISO 8601 timestamp with no Z / ±HH:MM / ±HHMM / ±HH
  'invalid_timestamp', // not ISO 8601 date-time, or an impossible date or time
  'unsafe_integer_id', // an id written as a JSON number above 2^53 - 1: its digits were already lost
  'invalid_avro', // a Kafka value in the Confluent wire format that cannot be decoded
  'invalid_utf8', // the bytes are not UTF-8: kept exactly, never repaired
  'future_timestamp', // an event instant further ahead of receipt than the bound (default 24 h): a bad clock
  'internal_error', // intake or the store failed on this one message (a bug): kept so its neighbours go on
] as const;

export const QuarantineReason = z.enum(quarantineReasons);
export type QuarantineReason = z.infer<typeof QuarantineReason>;

/**
 * A problem found while reading one field. Thrown inside intake only and caught at its top: invalid
 * messages are rare, so the happy path pays nothing for it.
 */
export class IntakeProblem extends Error {
  constructor(
    readonly reason: QuarantineReason,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'IntakeProblem';
  }
}

const SHOWN = 80;

/**
 * A short, single-line rendering of an offending value for a quarantine detail. Bounded in depth and
 * length whatever the value: a value nested thousands deep must not recurse (JSON.stringify would
 * overflow the stack), and a megabyte of string is not copied.
 */
export function show(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'absent';
  else if (typeof value === 'bigint') text = value.toString();
  else if (typeof value === 'number') text = String(value); // a JSON number out of range: Infinity, not "null"
  else text = preview(value, 3);
  return text.length > SHOWN ? `${text.slice(0, SHOWN - 3)}...` : text;
}

/** JSON-like text of `value`, nested values below `depth` shown as […]/{…}, cut soon after SHOWN characters. */
function preview(value: unknown, depth: number): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return quoted(value);
  if (typeof value !== 'object') return typeof value;
  const array = Array.isArray(value);
  if (depth === 0) return array ? '[…]' : '{…}';
  const parts: string[] = [];
  let length = 0;
  const add = (part: string): boolean => {
    parts.push(part);
    length += part.length + 1;
    return length <= SHOWN;
  };
  // Lazily: stops once enough is shown, however many entries there are.
  if (array) {
    for (const v of value as unknown[]) if (!add(preview(v, depth - 1))) break;
  } else {
    for (const k in value) if (!add(`${quoted(k)}:${preview((value as Record<string, unknown>)[k], depth - 1)}`)) break;
  }
  return array ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}

const quoted = (s: string): string => JSON.stringify(s.length > SHOWN ? s.slice(0, SHOWN) : s);
