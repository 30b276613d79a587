import { createHash } from 'node:crypto';
import {
  CourseGradeChangeRecord,
  GradeChangeRecord,
  GradeOverrideRecord,
  type EventKind,
  type NormalisedEvent,
} from '../intake/records.js';

/**
 * The deterministic fingerprint of a normalised record, and the ordering key of an event:
 * (instant, fingerprint). Equal instants are common (Canvas writes seconds, and one request can emit
 * several events), so the fingerprint breaks ties the same way in every process and every backend.
 */

/** The fields of each kind, sorted: a record is fingerprinted on exactly its schema's fields. */
const FIELDS: Record<EventKind, readonly string[]> = {
  grade_change: Object.keys(GradeChangeRecord.shape).sort(),
  course_grade_change: Object.keys(CourseGradeChangeRecord.shape).sort(),
  grade_override: Object.keys(GradeOverrideRecord.shape).sort(),
};

/**
 * Canonical JSON of a record: its schema's fields in sorted order, absent read as null (SPEC §1.3:
 * absent and null are the same), so an extra or missing key from some decoder cannot change it.
 */
export function canonicalJson(record: NormalisedEvent): string {
  const fields = FIELDS[record.kind];
  const values = record as unknown as Record<string, unknown>;
  const parts = fields.map((field) => `${JSON.stringify(field)}:${JSON.stringify(values[field] ?? null)}`);
  return `{${parts.join(',')}}`;
}

/** sha256 of the canonical JSON, as 64 lowercase hex digits (so string order is byte order). */
export function fingerprint(record: NormalisedEvent): string {
  return createHash('sha256').update(canonicalJson(record)).digest('hex');
}

/** The version of a stored value: the instant and fingerprint of the event that wrote it. */
export interface Version {
  instant: number;
  fp: string;
}

/** Orders versions: later instant first, then the greater fingerprint. 0 means the same event. */
export function compareVersions(a: Version, b: Version): number {
  if (a.instant !== b.instant) return a.instant < b.instant ? -1 : 1;
  return a.fp < b.fp ? -1 : a.fp > b.fp ? 1 : 0;
}
