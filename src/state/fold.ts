import type { NormalisedEvent } from '../intake/records.js';
import { compareVersions, fingerprint, type Version } from './fingerprint.js';
import {
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

/** The version of each key's stored row before the batch (null: no row), per record table name. */
export type Reference = Map<string, Map<string, Version | null>>;

function mainRow(r: NormalisedEvent, instant: number, fp: string): { table: Table; row: WriteRow } {
  switch (r.kind) {
    case 'grade_change':
      return {
        table: ASSIGNMENT_SCORES,
        row: {
          key: [r.assignment_id, r.student_id],
          values: [r.course_id, r.submission_id, r.score, r.grade, r.points_possible, r.grading_complete, r.muted, r.grader_id],
          instant,
          fp,
        },
      };
    case 'course_grade_change':
      return {
        table: COURSE_SCORES,
        row: {
          key: [r.course_id, r.student_id],
          values: [r.current_score, r.final_score, r.unposted_current_score, r.unposted_final_score, r.workflow_state],
          instant,
          fp,
        },
      };
    case 'grade_override':
      return {
        table: COURSE_OVERRIDES,
        row: {
          key: [r.course_id, r.student_id, r.grading_period_id ?? NO_GRADING_PERIOD],
          values: [r.override_score],
          instant,
          fp,
        },
      };
  }
}

/** The mappings an event teaches (SPEC §1.3), each versioned by the event itself. */
function mappingRows(r: NormalisedEvent, instant: number, fp: string): { table: Table; row: WriteRow }[] {
  const out: { table: Table; row: WriteRow }[] = [];
  // Only grade_change carries the student's SIS id; metadata.user_sis_id is the acting user.
  if (r.kind === 'grade_change' && r.student_sis_id !== null) {
    out.push({ table: STUDENT_SIS_IDS, row: { key: [r.student_id], values: [r.student_sis_id], instant, fp } });
  }
  if (r.course_id !== null && r.course_sis_id !== null) {
    out.push({ table: COURSE_SIS_IDS, row: { key: [r.course_id], values: [r.course_sis_id], instant, fp } });
  }
  if (r.course_id !== null && r.root_account_id !== null) {
    out.push({ table: COURSE_ROOT_ACCOUNTS, row: { key: [r.course_id], values: [r.root_account_id], instant, fp } });
  }
  return out;
}

export function plan(records: readonly NormalisedEvent[]): Plan {
  const winners = new Map<Table, Map<string, WriteRow>>(TABLES.map((t) => [t, new Map()]));
  const offer = (table: Table, row: WriteRow): string => {
    const key = keyString(row.key);
    const rows = winners.get(table)!;
    const held = rows.get(key);
    if (held === undefined || compareVersions(row, held) > 0) rows.set(key, row);
    return key;
  };
  const planned: Plan['records'] = [];
  for (const record of records) {
    const version = { instant: record.instant, fp: fingerprint(record) };
    const main = mainRow(record, version.instant, version.fp);
    planned.push({ table: main.table, key: offer(main.table, main.row), version });
    for (const m of mappingRows(record, version.instant, version.fp)) offer(m.table, m.row);
  }
  return {
    writes: TABLES.map((table) => ({ table, rows: [...winners.get(table)!.values()] })).filter((w) => w.rows.length > 0),
    records: planned,
  };
}

/** Each record's outcome, folding the batch in input order on top of the reference versions. */
export function outcomes(p: Plan, reference: Reference): Outcome[] {
  const latest = new Map<string, Version | null>();
  return p.records.map(({ table, key, version }) => {
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
