import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';

/**
 * The tables of the compacted state (SPEC §2), described once so that both backends, the dump and
 * `inspect` agree on columns and their order. Every table also has `instant` (epoch ms) and `fp` — the
 * version of the event that wrote the row — and `seq`, the store-wide change number.
 *
 * The DDL itself lives in the versioned migrations of each backend: a migration, once shipped, never
 * changes, while these descriptions follow the latest schema.
 */

/** `id`: canonical id, a decimal string in JS, a 64-bit integer in the database. */
export type ColumnType = 'id' | 'score' | 'text' | 'bool';

export interface Column {
  name: string;
  type: ColumnType;
}

/** A column value in JS: ids as decimal strings, never numbers (Canvas ids exceed 2^53). */
export type Value = string | number | boolean | null;

export type StateKind =
  | 'assignment_score'
  | 'course_score'
  | 'course_override'
  | 'student_sis_id'
  | 'course_sis_id'
  | 'course_root_account'
  | 'assignment_name';

export interface Table {
  name: string;
  kind: StateKind;
  key: readonly Column[];
  values: readonly Column[];
  /**
   * Mappings are re-taught by nearly every event; moving their `seq` only when the mapped value
   * changes keeps the sync engine from re-examining every row of a student on each grade.
   */
  seqOnValueChangeOnly: boolean;
}

const id = (name: string): Column => ({ name, type: 'id' });
const score = (name: string): Column => ({ name, type: 'score' });
const text = (name: string): Column => ({ name, type: 'text' });
const bool = (name: string): Column => ({ name, type: 'bool' });

/**
 * "No grading period" in the override key. NULL cannot take part in a primary key (two NULLs are
 * never equal, so upserts would not find the row); -1 is never a Canvas id.
 */
export const NO_GRADING_PERIOD = '-1';

export const ASSIGNMENT_SCORES: Table = {
  name: 'assignment_scores',
  kind: 'assignment_score',
  key: [id('assignment_id'), id('student_id')],
  values: [
    id('course_id'),
    id('submission_id'),
    score('score'),
    text('grade'),
    score('points_possible'),
    bool('grading_complete'),
    bool('muted'),
    id('grader_id'),
  ],
  seqOnValueChangeOnly: false,
};

export const COURSE_SCORES: Table = {
  name: 'course_scores',
  kind: 'course_score',
  key: [id('course_id'), id('student_id')],
  values: [
    score('current_score'),
    score('final_score'),
    score('unposted_current_score'),
    score('unposted_final_score'),
    text('workflow_state'),
  ],
  seqOnValueChangeOnly: false,
};

export const COURSE_OVERRIDES: Table = {
  name: 'course_overrides',
  kind: 'course_override',
  key: [id('course_id'), id('student_id'), id('grading_period_id')],
  values: [score('override_score')],
  seqOnValueChangeOnly: false,
};

export const STUDENT_SIS_IDS: Table = {
  name: 'student_sis_ids',
  kind: 'student_sis_id',
  key: [id('student_id')],
  values: [text('student_sis_id')],
  seqOnValueChangeOnly: true,
};

export const COURSE_SIS_IDS: Table = {
  name: 'course_sis_ids',
  kind: 'course_sis_id',
  key: [id('course_id')],
  values: [text('course_sis_id')],
  seqOnValueChangeOnly: true,
};

export const COURSE_ROOT_ACCOUNTS: Table = {
  name: 'course_root_accounts',
  kind: 'course_root_account',
  key: [id('course_id')],
  values: [id('root_account_id')],
  seqOnValueChangeOnly: true,
};

/** An assignment's name (Canvas's `assignment_name`): the OneRoster lineItems title. */
export const ASSIGNMENT_NAMES: Table = {
  name: 'assignment_names',
  kind: 'assignment_name',
  key: [id('assignment_id')],
  values: [text('name')],
  seqOnValueChangeOnly: true,
};

/** Record tables (an event's outcome is that of its row here), then mappings. Fixed order: dump, locks. */
export const RECORD_TABLES = [ASSIGNMENT_SCORES, COURSE_SCORES, COURSE_OVERRIDES] as const;
export const MAPPING_TABLES = [STUDENT_SIS_IDS, COURSE_SIS_IDS, COURSE_ROOT_ACCOUNTS, ASSIGNMENT_NAMES] as const;
export const TABLES: readonly Table[] = [...RECORD_TABLES, ...MAPPING_TABLES];

/** A row to write: key and values in the table's column order, and its version. */
export interface WriteRow {
  key: string[];
  values: Value[];
  instant: number;
  fp: string;
  /** Several records of the batch offered a row for this key (only this winner is written). */
  contested?: boolean;
}

/** A row read back: every column by name, plus `instant` (ms), `fp` and `seq` (decimal string). */
export type StoredRow = Record<string, Value> & { instant: number; fp: string; seq: string };

export const keyString = (key: readonly string[]): string => key.join('/');

/**
 * A quarantine detail as stored: U+0000 written as an escape. Details quote the offending input (a
 * JSON.parse message shows the text around the error), and PostgreSQL text cannot hold U+0000; both
 * backends store the same so that their dumps agree.
 */
export const printableDetail = (detail: string): string => detail.replaceAll('\u0000', '\\u0000');

/** A quarantined message's raw forms: its bytes, their text (U+FFFD where not UTF-8), and their digest. */
export interface RawForms {
  text: string;
  bytes: Buffer;
  /** The bytes are UTF-8: `text` holds them exactly. */
  utf8: boolean;
  /** sha256 of the bytes, hex: with source and position, what makes a redelivered message one entry. */
  sha256: string;
}

export function rawForms(raw: string | Uint8Array): RawForms {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const utf8 = typeof raw === 'string' || isUtf8(bytes);
  return {
    text: typeof raw === 'string' ? raw : bytes.toString('utf8'),
    bytes,
    utf8,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** How a stored message is listed: its text, and its exact bytes in base64 when they are not UTF-8. */
export function listedRaw(bytes: Buffer): { raw: string; raw_base64?: string } {
  return isUtf8(bytes) ? { raw: bytes.toString('utf8') } : { raw: bytes.toString('utf8'), raw_base64: bytes.toString('base64') };
}
