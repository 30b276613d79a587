import type { NormalisedEvent } from '../intake/records.js';
import { compareVersions, fingerprint, type Version } from './fingerprint.js';
import { hash } from 'node:crypto';
import type { TaughtMapping } from './store.js';
import {
  ASSIGNMENT_NAMES,
  ASSIGNMENT_SCORES,
  COURSE_OVERRIDES,
  COURSE_ROOT_ACCOUNTS,
  COURSE_SCORES,
  COURSE_SIS_IDS,
  NO_GRADING_PERIOD,
  STUDENT_SIS_IDS,
  TABLES,
  keyString,
  type Table,
  type Value,
  type WriteRow,
} from './tables.js';

/**
 * The fold of SPEC §2, independent of the backend. A batch is planned in JS: each record becomes its
 * main row plus the mapping rows it teaches, and rows sharing a key are reduced to the greatest
 * version, because one SQL upsert cannot touch a row twice. The backend then writes each winner
 * where it beats the stored version (last-writer-wins) and reports, per key, the version the batch
 * was compared against; `outcomes` replays the batch in input order against that to tell each record
 * applied, stale or duplicate. The state depends only on the set of events; the counts are those of
 * folding the batch one record at a time, so they do not depend on where batches were cut either.
 */

export type Outcome = 'applied' | 'stale' | 'duplicate';

/** The winning row per key of one table, for one batch. */
export interface TableWrite {
  table: Table;
  rows: WriteRow[];
}

export interface Plan {
  writes: TableWrite[];
  /** Per input record: where its main row lives and its version. */
  records: { table: Table; key: string; version: Version }[];
}

/**
 * The version of each key's stored row before the batch, per record table name; a key that is absent
 * (or null) had no row. A backend may also leave out a key that only one record of the batch offered,
 * when that record's row was written: the outcome (applied) is the same.
 */
export type Reference = Map<string, Map<string, Version | null>>;

/** The table of an event's main row. */
function mainTable(r: NormalisedEvent): Table {
  return r.kind === 'grade_change' ? ASSIGNMENT_SCORES : r.kind === 'course_grade_change' ? COURSE_SCORES : COURSE_OVERRIDES;
}

/** The key of an event's main row, in its table's column order. */
function mainKey(r: NormalisedEvent): string[] {
  switch (r.kind) {
    case 'grade_change':
      return [r.assignment_id, r.student_id];
    case 'course_grade_change':
      return [r.course_id, r.student_id];
    case 'grade_override':
      return [r.course_id, r.student_id, r.grading_period_id ?? NO_GRADING_PERIOD];
  }
}

/** The values of an event's main row, in its table's column order. */
function mainValues(r: NormalisedEvent): Value[] {
  switch (r.kind) {
    case 'grade_change':
      return [r.course_id, r.submission_id, r.score, r.grade, r.points_possible, r.grading_complete, r.muted, r.grader_id];
    case 'course_grade_change':
      return [r.current_score, r.final_score, r.unposted_current_score, r.unposted_final_score, r.workflow_state];
    case 'grade_override':
      return [r.override_score];
  }
}

/** A mapping table, and the (key, value) an event teaches it, or null. */
interface Mapping {
  table: Table;
  of(r: NormalisedEvent): [key: string, value: string] | null;
  /** Versioned by its own value (see `mappingVersion`) rather than by the event's fingerprint. */
  ownVersion?: boolean;
}

/** The mappings an event teaches (SPEC §1.3), each versioned by the event itself. */
const MAPPINGS: readonly Mapping[] = [
  // Only grade_change carries the student's SIS id; metadata.user_sis_id is the acting user.
  { table: STUDENT_SIS_IDS, of: (r) => (r.kind === 'grade_change' && r.student_sis_id !== null ? [r.student_id, r.student_sis_id] : null) },
  { table: COURSE_SIS_IDS, of: (r) => (r.course_id !== null && r.course_sis_id !== null ? [r.course_id, r.course_sis_id] : null) },
  { table: COURSE_ROOT_ACCOUNTS, of: (r) => (r.course_id !== null && r.root_account_id !== null ? [r.course_id, r.root_account_id] : null) },
  // The name is not in the event's fingerprint (fingerprint.ts): two events of one instant and
  // fingerprint may carry different names, so the name's version is its own.
  {
    table: ASSIGNMENT_NAMES,
    of: (r) => (r.kind === 'grade_change' && r.assignment_name !== null ? [r.assignment_id, r.assignment_name] : null),
    ownVersion: true,
  },
];

/** The mapping tables a value may be taught to directly (TaughtMapping), by name. */
export const TAUGHT_TABLES: Readonly<Record<TaughtMapping['table'], Table>> = {
  student_sis_ids: STUDENT_SIS_IDS,
  course_sis_ids: COURSE_SIS_IDS,
  course_root_accounts: COURSE_ROOT_ACCOUNTS,
  assignment_names: ASSIGNMENT_NAMES,
};

/**
 * The version of a mapping value taught at `instant` apart from an event's fingerprint: the same
 * (table, key, value) at the same instant is the same version wherever it comes from, and two values at
 * one instant are ordered by their digests, so the mapping depends only on the set of what was taught.
 */
export function mappingVersion(table: Table, key: string, value: string, instant: number): Version {
  return { instant, fp: hash('sha256', `${table.name}\u0000${key}\u0000${value}`, 'hex') };
}

/** The greatest version offered so far for a key, what carries it (a record, or a mapping's value), and how many offers there were. */
interface Held {
  version: Version;
  /** The record of a record table's row. */
  record?: NormalisedEvent;
  /** The value of a mapping table's row. */
  value?: string;
  offers: number;
}

export function plan(records: readonly NormalisedEvent[], taught: readonly TaughtMapping[] = []): Plan {
  // Rows are built for the winners only: most offers lose within the batch (a course's mappings are
  // taught again by every event about the course).
  const winners = new Map<Table, Map<string, Held>>(TABLES.map((t) => [t, new Map()]));
  const offer = (table: Table, key: string, version: Version, record?: NormalisedEvent, value?: string): void => {
    const rows = winners.get(table)!;
    const held = rows.get(key);
    if (held === undefined) rows.set(key, { version, record, value, offers: 1 });
    else {
      held.offers += 1;
      if (compareVersions(version, held.version) > 0) {
        held.version = version;
        held.record = record;
        held.value = value;
      }
    }
  };
  const planned: Plan['records'] = [];
  for (const record of records) {
    const version = { instant: record.instant, fp: fingerprint(record) };
    const table = mainTable(record);
    const key = keyString(mainKey(record));
    offer(table, key, version, record);
    planned.push({ table, key, version });
    for (const m of MAPPINGS) {
      const taught = m.of(record);
      if (taught === null) continue;
      // A one-column key is its own key string.
      offer(m.table, taught[0], m.ownVersion ? mappingVersion(m.table, taught[0], taught[1], record.instant) : version, undefined, taught[1]);
    }
  }
  for (const t of taught) {
    const table = TAUGHT_TABLES[t.table];
    offer(table, t.key, mappingVersion(table, t.key, t.value, t.instant), undefined, t.value);
  }
  const writes: TableWrite[] = [];
  for (const table of TABLES) {
    const held = winners.get(table)!;
    if (held.size === 0) continue;
    const rows = [...held.entries()].map(([key, { version, record, value, offers }]): WriteRow =>
      record !== undefined
        ? { key: mainKey(record), values: mainValues(record), instant: version.instant, fp: version.fp, contested: offers > 1 }
        : { key: [key], values: [value!], instant: version.instant, fp: version.fp },
    );
    writes.push({ table, rows });
  }
  return { writes, records: planned };
}

/** Each record's outcome, folding the batch in input order on top of the reference versions. */
export function outcomes(records: Plan['records'], reference: Reference): Outcome[] {
  const latest = new Map<string, Version | null>();
  return records.map(({ table, key, version }) => {
    const slot = `${table.name}/${key}`;
    const current = latest.has(slot) ? latest.get(slot)! : (reference.get(table.name)?.get(key) ?? null);
    const order = current === null ? 1 : compareVersions(version, current);
    if (order > 0) {
      latest.set(slot, version);
      return 'applied';
    }
    return order === 0 ? 'duplicate' : 'stale';
  });
}
