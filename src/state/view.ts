import { compareIds } from '../intake/ids.js';
import {
  ASSIGNMENT_SCORES,
  COURSE_OVERRIDES,
  COURSE_ROOT_ACCOUNTS,
  COURSE_SCORES,
  COURSE_SIS_IDS,
  NO_GRADING_PERIOD,
  STUDENT_SIS_IDS,
  TABLES,
  type StoredRow,
  type Table,
  type Value,
} from './tables.js';

/**
 * `dump` and `inspect`, written once over the little each backend provides: rows of a table,
 * filtered by equality on some columns, in key order.
 */
export interface RowReader {
  select(table: Table, filter: Record<string, string>): Promise<StoredRow[]>;
  quarantineRows(): Promise<QuarantineDumpRow[]>;
}

export interface QuarantineDumpRow {
  source: string;
  position: string;
  reason: string;
  detail: string;
  raw: string;
  /** The exact bytes, when they are not UTF-8 (`raw` then shows U+FFFD in their place). */
  raw_base64?: string;
  raw_sha256: string;
}

export interface AssignmentScoreState {
  assignment_id: string;
  course_id: string | null;
  submission_id: string | null;
  score: number | null;
  grade: string | null;
  points_possible: number | null;
  grading_complete: boolean | null;
  muted: boolean;
  grader_id: string | null;
  instant: string;
}

export interface CourseScoreState {
  course_id: string;
  current_score: number | null;
  final_score: number | null;
  unposted_current_score: number | null;
  unposted_final_score: number | null;
  workflow_state: 'active' | 'deleted';
  instant: string;
}

export interface CourseOverrideState {
  course_id: string;
  /** null: the course-level override that belongs to no grading period */
  grading_period_id: string | null;
  /** null: the override was cleared */
  override_score: number | null;
  instant: string;
}

export interface CourseState {
  course_id: string;
  course_sis_id: string | null;
  root_account_id: string | null;
}

export interface StudentState {
  student_id: string;
  student_sis_id: string | null;
  assignment_scores: AssignmentScoreState[];
  course_scores: CourseScoreState[];
  course_overrides: CourseOverrideState[];
  /** every course the rows above mention (and the one asked for), with what is known of it */
  courses: CourseState[];
}

/** A row as plain JSON: columns in table order, the sentinel as null, the instant as ISO UTC. */
function present(table: Table, row: StoredRow, omit: readonly string[] = []): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const column of [...table.key, ...table.values]) {
    if (omit.includes(column.name)) continue;
    const value = row[column.name] ?? null;
    out[column.name] = column.name === 'grading_period_id' && value === NO_GRADING_PERIOD ? null : value;
  }
  out['instant'] = new Date(row.instant).toISOString();
  return out;
}

export async function dump(reader: RowReader): Promise<string> {
  const lines: string[] = [];
  for (const table of TABLES) {
    lines.push(`# ${table.name}`);
    for (const row of await reader.select(table, {})) {
      lines.push(JSON.stringify({ ...present(table, row), fp: row.fp }));
    }
  }
  lines.push('# quarantine');
  // Sorted here rather than in SQL: text collation differs between the backends.
  const entries = (await reader.quarantineRows()).sort(
    (a, b) => cmp(a.source, b.source) || cmp(a.position, b.position) || cmp(a.raw_sha256, b.raw_sha256),
  );
  for (const e of entries) {
    const exact = e.raw_base64 === undefined ? {} : { raw_base64: e.raw_base64 };
    lines.push(JSON.stringify({ source: e.source, position: e.position, reason: e.reason, detail: e.detail, raw: e.raw, ...exact }));
  }
  return `${lines.join('\n')}\n`;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The record rows of one course, per table, in key order (what reconciliation compares Canvas with). */
export interface CourseRows {
  assignment_scores: StoredRow[];
  course_scores: StoredRow[];
  course_overrides: StoredRow[];
}

export async function courseRows(reader: RowReader, courseId: string): Promise<CourseRows> {
  return {
    assignment_scores: await reader.select(ASSIGNMENT_SCORES, { course_id: courseId }),
    course_scores: await reader.select(COURSE_SCORES, { course_id: courseId }),
    course_overrides: await reader.select(COURSE_OVERRIDES, { course_id: courseId }),
  };
}

/** The students whose SIS id is `sisId` (normally one), in id order. A scan: the table has no index on it. */
export async function studentsWithSisId(reader: RowReader, sisId: string): Promise<string[]> {
  return (await reader.select(STUDENT_SIS_IDS, { student_sis_id: sisId })).map((r) => r['student_id'] as string);
}

export async function inspect(reader: RowReader, studentId: string, courseId?: string): Promise<StudentState> {
  const filter: Record<string, string> = { student_id: studentId };
  if (courseId !== undefined) filter['course_id'] = courseId;
  const omit = ['student_id'];
  const assignments = (await reader.select(ASSIGNMENT_SCORES, filter)).map((r) => present(ASSIGNMENT_SCORES, r, omit));
  const courseScores = (await reader.select(COURSE_SCORES, filter)).map((r) => present(COURSE_SCORES, r, omit));
  const overrides = (await reader.select(COURSE_OVERRIDES, filter)).map((r) => present(COURSE_OVERRIDES, r, omit));
  const sis = await reader.select(STUDENT_SIS_IDS, { student_id: studentId });

  const courseIds = new Set<string>(courseId === undefined ? [] : [courseId]);
  for (const row of [...assignments, ...courseScores, ...overrides]) {
    if (typeof row['course_id'] === 'string') courseIds.add(row['course_id']);
  }
  const courses: CourseState[] = [];
  for (const id of [...courseIds].sort(compareIds)) {
    const [sisRow] = await reader.select(COURSE_SIS_IDS, { course_id: id });
    const [rootRow] = await reader.select(COURSE_ROOT_ACCOUNTS, { course_id: id });
    courses.push({
      course_id: id,
      course_sis_id: (sisRow?.['course_sis_id'] as string | undefined) ?? null,
      root_account_id: (rootRow?.['root_account_id'] as string | undefined) ?? null,
    });
  }
  return {
    student_id: studentId,
    student_sis_id: (sis[0]?.['student_sis_id'] as string | undefined) ?? null,
    assignment_scores: assignments as unknown as AssignmentScoreState[],
    course_scores: courseScores as unknown as CourseScoreState[],
    course_overrides: overrides as unknown as CourseOverrideState[],
    courses,
  };
}
