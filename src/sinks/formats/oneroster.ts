import { zipSync } from 'fflate';
import { formatInstant } from '../../intake/timestamps.js';
import { compareIds } from '../../intake/ids.js';
import { compareOptionalIds, type FeedRow } from '../../sync/feed-row.js';
import { csvLine } from './csv.js';
import { encodeLinesSync } from './lines.js';

/**
 * OneRoster 1.1 gradebook CSV: manifest.csv, lineItems.csv and results.csv in delta mode, written with
 * the same RFC 4180 rules as the default feed. One line item per assignment, and one per course (per
 * grading period for period overrides) for course grades. Class and student references are the SIS
 * ids, since those are the SIS's own sourcedIds. sourcedIds of our own objects derive from canonical
 * Canvas ids, so a re-sent row updates the same result instead of adding one.
 *
 * An assignment's title is its name as Canvas last told it (grade_change's assignment_name, or a
 * reconciliation), else derived from its id. Canvas grade events carry no dates or categories:
 * assignDate, dueDate, categorySourcedId and gradingPeriodSourcedId are left empty.
 */

export const LINE_ITEM_COLUMNS = [
  'sourcedId',
  'status',
  'dateLastModified',
  'title',
  'description',
  'assignDate',
  'dueDate',
  'classSourcedId',
  'categorySourcedId',
  'gradingPeriodSourcedId',
  'resultValueMin',
  'resultValueMax',
] as const;

export const RESULT_COLUMNS = [
  'sourcedId',
  'status',
  'dateLastModified',
  'lineItemSourcedId',
  'studentSourcedId',
  'scoreStatus',
  'score',
  'scoreDate',
  'comment',
] as const;

const MANIFEST: readonly (readonly [string, string])[] = [
  ['manifest.version', '1.0'],
  ['oneroster.version', '1.1'],
  ['file.academicSessions', 'absent'],
  ['file.categories', 'absent'],
  ['file.classes', 'absent'],
  ['file.classResources', 'absent'],
  ['file.courses', 'absent'],
  ['file.courseResources', 'absent'],
  ['file.demographics', 'absent'],
  ['file.enrollments', 'absent'],
  ['file.lineItems', 'delta'],
  ['file.orgs', 'absent'],
  ['file.resources', 'absent'],
  ['file.results', 'delta'],
  ['file.users', 'absent'],
  ['source.systemName', 'gradestream'],
];

export function lineItemSourcedId(row: FeedRow): string {
  if (row.record_type === 'assignment') return `li-${row.assignment_id}`;
  return `li-course-${row.course_id}${row.grading_period_id === null ? '' : `-gp-${row.grading_period_id}`}`;
}

export function resultSourcedId(row: FeedRow): string {
  return `r-${lineItemSourcedId(row)}-${row.student_id}`;
}

/** fully graded, or for an assignment Canvas has not finished grading: partially graded / submitted. */
function scoreStatus(row: FeedRow): string {
  if (row.record_type === 'course' || row.grading_complete === true) return 'fully graded';
  return row.score === null ? 'submitted' : 'partially graded';
}

const text = (value: number | null): string => (value === null ? '' : String(value));

function resultLine(row: FeedRow): string {
  const changedAt = formatInstant(row.changed_at);
  return csvLine([
    resultSourcedId(row),
    row.op === 'delete' ? 'tobedeleted' : 'active',
    changedAt,
    lineItemSourcedId(row),
    row.student_sis_id,
    scoreStatus(row),
    text(row.score),
    changedAt.slice(0, 10),
    '',
  ]);
}

function lineItemLine(row: FeedRow, titles: ReadonlyMap<string, string>): string {
  const course = row.record_type === 'course';
  return csvLine([
    lineItemSourcedId(row),
    // A line item outlives the deletion of one student's course grade: only results are deleted.
    'active',
    formatInstant(row.changed_at),
    course
      ? `Course grade${row.grading_period_id === null ? '' : ` (grading period ${row.grading_period_id})`}`
      : (titles.get(row.assignment_id!) ?? `Assignment ${row.assignment_id}`),
    '',
    '',
    '',
    row.course_sis_id,
    '',
    '',
    '0',
    // Canvas course scores are percentages.
    course ? '100' : text(row.points_possible),
  ]);
}

/** Line items in a fixed order: assignments by id, then course grades by course and grading period. */
function compareLineItems(a: FeedRow, b: FeedRow): number {
  if (a.record_type !== b.record_type) return a.record_type === 'assignment' ? -1 : 1;
  return (
    compareOptionalIds(a.assignment_id, b.assignment_id) ||
    compareIds(a.course_id, b.course_id) ||
    compareOptionalIds(a.grading_period_id, b.grading_period_id)
  );
}

/**
 * The three files' bytes for rows already in SPEC §6 order. A line item takes its class and points
 * from its most recently changed row (the first such row on a tie) and that row's instant as
 * dateLastModified.
 */
export function oneRosterFiles(rows: readonly FeedRow[], titles: ReadonlyMap<string, string> = new Map()): { name: string; bytes: Uint8Array }[] {
  const latest = new Map<string, FeedRow>();
  for (const row of rows) {
    const id = lineItemSourcedId(row);
    const seen = latest.get(id);
    if (seen === undefined || row.changed_at > seen.changed_at) latest.set(id, row);
  }
  const items = [...latest.values()].sort(compareLineItems);
  const encoder = new TextEncoder();
  return [
    { name: 'manifest.csv', bytes: encoder.encode(csvLine(['propertyName', 'value']) + MANIFEST.map((entry) => csvLine(entry)).join('')) },
    { name: 'lineItems.csv', bytes: encoder.encode(csvLine(LINE_ITEM_COLUMNS) + items.map((row) => lineItemLine(row, titles)).join('')) },
    { name: 'results.csv', bytes: encodeLinesSync(csvLine(RESULT_COLUMNS), rows, resultLine) },
  ];
}

/**
 * The files as one zip, the way OneRoster CSV sets are exchanged. The entries' timestamp is fixed
 * (fflate writes the local-time fields of the Date, so a local-time Date gives the same bytes in every
 * zone): the same rows always give the same zip.
 */
export function zipOneRoster(files: readonly { name: string; bytes: Uint8Array }[]): Uint8Array {
  const entries: Record<string, Uint8Array> = {};
  for (const file of files) entries[file.name] = file.bytes;
  return zipSync(entries, { level: 6, mtime: new Date(2000, 0, 1) });
}
