import type { Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { InputUnreadableError } from '../errors.js';
import { IntakeProblem } from '../intake/reasons.js';
import { readGlobalId } from '../intake/ids.js';
import type { TaughtMapping } from '../state/store.js';

/**
 * Canvas's provisioning report CSVs (Admin → Reports → Provisioning), read for the SIS ids Canvas
 * knows: the users report (`canvas_user_id`, `user_id` = the SIS user id) teaches student SIS ids, the
 * courses report (`canvas_course_id`, `course_id` = the SIS course id) course SIS ids — so that rows
 * held `student_unmapped` / `course_unmapped` can go without waiting for an event to teach them.
 * Canvas ids in the reports are local to the instance's shard, as in the REST API.
 */
export type ReportKind = 'users' | 'courses';

const COLUMNS: Record<ReportKind, { canvas: string; sis: string; table: TaughtMapping['table'] }> = {
  users: { canvas: 'canvas_user_id', sis: 'user_id', table: 'student_sis_ids' },
  courses: { canvas: 'canvas_course_id', sis: 'course_id', table: 'course_sis_ids' },
};

/** A report row that could not be read, by its line in the file. */
export interface BadRow {
  line: number;
  problem: string;
}

export type ReportItem = { mapping: TaughtMapping } | { withoutSisId: true } | { bad: BadRow };

/** At most this many characters in a field: an SIS id or a Canvas id is short; more is a broken file. */
const MAX_FIELD = 1_000;

/**
 * The report's kind (from its header) and its rows as mappings taught at `instant`, one item per data
 * row in file order. A row that cannot be read is an item `bad` naming its line; the file goes on.
 */
export async function readProvisioningReport(
  input: Readable,
  shard: string,
  instant: number,
): Promise<{ kind: ReportKind; items: AsyncGenerator<ReportItem> }> {
  const parser = input.pipe(
    parse({ bom: true, info: true, skip_records_with_error: true, relax_column_count: true, max_record_size: 64 * 1024, skip_empty_lines: true }),
  );
  const skipped: BadRow[] = [];
  parser.on('skip', (err: CsvError) => skipped.push({ line: Number((err as { lines?: number }).lines ?? 0), problem: `not CSV: ${err.message.split('\n')[0]}` }));
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<{ record: string[]; info: { lines: number } }>;
  const first = await records.next();
  if (first.done) throw new InputUnreadableError('the file is empty: expected a Canvas provisioning report (users or courses)');
  const header = first.value.record.map((h) => h.trim());
  const kind = (Object.keys(COLUMNS) as ReportKind[]).find((k) => header.includes(COLUMNS[k].canvas) && header.includes(COLUMNS[k].sis));
  if (kind === undefined) {
    throw new InputUnreadableError('not a Canvas provisioning report: expected the columns canvas_user_id and user_id (users) or canvas_course_id and course_id (courses)');
  }
  const { canvas, sis, table } = COLUMNS[kind];
  const at = { canvas: header.indexOf(canvas), sis: header.indexOf(sis) };
  async function* items(): AsyncGenerator<ReportItem> {
    for (let next = await records.next(); !next.done; next = await records.next()) {
      while (skipped.length > 0) yield { bad: skipped.shift()! };
      const { record, info } = next.value;
      yield row(record, info.lines, at, table, shard, instant);
    }
    while (skipped.length > 0) yield { bad: skipped.shift()! };
  }
  return { kind, items: items() };
}

function row(record: string[], line: number, at: { canvas: number; sis: number }, table: TaughtMapping['table'], shard: string, instant: number): ReportItem {
  const canvasId = record[at.canvas];
  const sisId = record[at.sis];
  if (canvasId === undefined || sisId === undefined) return { bad: { line, problem: `${record.length} fields: too few for the header` } };
  if (canvasId.length > MAX_FIELD || sisId.length > MAX_FIELD) return { bad: { line, problem: `a field longer than ${MAX_FIELD} characters` } };
  if (sisId === '') return { withoutSisId: true };
  if (sisId.includes('\u0000') || !sisId.isWellFormed()) return { bad: { line, problem: 'the SIS id is not text (U+0000 or a lone surrogate)' } };
  try {
    return { mapping: { table, key: readGlobalId(canvasId, shard, 'canvas id'), value: sisId, instant } };
  } catch (err) {
    if (err instanceof IntakeProblem) return { bad: { line, problem: err.detail } };
    throw err;
  }
}
