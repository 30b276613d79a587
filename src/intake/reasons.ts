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

/** A short, single-line rendering of an offending value for a quarantine detail. */
export function show(value: unknown): string {
  let text: string;
  if (value === undefined) text = 'absent';
  else if (typeof value === 'bigint') text = value.toString();
  else if (typeof value === 'number' && !Number.isFinite(value)) text = String(value); // a JSON number out of range: Infinity, not "null"
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
