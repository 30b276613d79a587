import { hash } from 'node:crypto';
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

/**
 * The fields of each kind, sorted: a record is fingerprinted on exactly its schema's fields, but for
 * `assignment_name` — a name, not a grade, added after fingerprints were first stored: leaving it out
 * keeps every stored fingerprint what it was (the name has a version of its own: see fold.ts).
 */
const UNVERSIONED: ReadonlySet<string> = new Set(['assignment_name']);
const FIELDS: Record<EventKind, readonly string[]> = {
  grade_change: Object.keys(GradeChangeRecord.shape).filter((f) => !UNVERSIONED.has(f)).sort(),
  course_grade_change: Object.keys(CourseGradeChangeRecord.shape).sort(),
  grade_override: Object.keys(GradeOverrideRecord.shape).sort(),
};

/** What precedes each field's value in the canonical JSON: `{"a":`, `,"b":`, … (computed once). */
const heads = (fields: readonly string[]) => fields.map((f, i) => `${i === 0 ? '{' : ','}${JSON.stringify(f)}:`);
const HEADS: Record<EventKind, readonly string[]> = {
  grade_change: heads(FIELDS.grade_change),
  course_grade_change: heads(FIELDS.course_grade_change),
  grade_override: heads(FIELDS.grade_override),
};

/** Strings JSON.stringify leaves as they are between quotes: no control character, quote, backslash or surrogate. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\ud7ff\ue000-\uffff]*$/;

/** JSON.stringify(value ?? null), the same text, without its generic path for the scalars records hold. */
function jsonValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return `${JSON.stringify(value)}`;
  }
}

/**
 * Canonical JSON of a record: its schema's fields in sorted order, absent read as null (SPEC §1.3:
 * absent and null are the same), so an extra or missing key from some decoder cannot change it.
 * Computed once per event, so written for speed: the same text as `{"field":JSON.stringify(value ?? null),…}`.
 */
export function canonicalJson(record: NormalisedEvent): string {
  const fields = FIELDS[record.kind];
  const head = HEADS[record.kind];
  const values = record as unknown as Record<string, unknown>;
  let out = '';
  for (let i = 0; i < fields.length; i++) out += head[i]! + jsonValue(values[fields[i]!]);
  return `${out}}`;
}

/** sha256 of the canonical JSON, as 64 lowercase hex digits (so string order is byte order). */
export function fingerprint(record: NormalisedEvent): string {
  return hash('sha256', canonicalJson(record), 'hex');
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
