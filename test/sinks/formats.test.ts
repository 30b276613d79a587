import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../../src/errors.js';
import {
  csvChunks,
  encodeBatch,
  encodeCsv,
  csvLine,
  csvRow,
  encodeJsonl,
  feedFieldText,
  jsonlChunks,
  jsonlRow,
  oneRosterFiles,
  zipOneRoster,
} from '../../src/sinks/formats/index.js';
import { readAll } from '../../src/sinks/types.js';
import { sortRows, type FeedRow } from '../../src/sync/feed-row.js';
import fc from 'fast-check';
import { FEED_COLUMNS } from '../../src/sync/feed-row.js';
import { formatInstant } from '../../src/intake/timestamps.js';
import { arbitraryRow, assignmentRow, courseRow } from '../sync/rows.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const HEADER =
  'record_type,op,root_account_id,course_id,course_sis_id,student_id,student_sis_id,assignment_id,grading_period_id,score,grade,points_possible,current_score,final_score,override_score,grading_complete,changed_at\r\n';

/** One of each shape: quoting in SIS ids, every number form, a delete, empty fields. */
const ROWS: FeedRow[] = [
  courseRow({
    op: 'delete',
    root_account_id: null,
    course_id: '10000000000124',
    course_sis_id: 'HIST\n200',
    student_id: '10000000000457',
    student_sis_id: 'S2\r',
    grading_period_id: '7',
    score: null,
    current_score: null,
    final_score: null,
    override_score: null,
    changed_at: Date.parse('2026-01-01T00:00:00Z'),
  }),
  assignmentRow({ score: 0.1 + 0.2, grade: 'incomplete, see "notes"', points_possible: 5, grading_complete: false }),
  courseRow(),
];

describe('CSV (RFC 4180, SPEC §6)', () => {
  it('writes the exact bytes', () => {
    const expected =
      HEADER +
      'course,delete,,10000000000124,"HIST\n200",10000000000457,"S2\r",,7,,,,,,,,2026-01-01T00:00:00.000Z\r\n' +
      'assignment,upsert,10000000000001,10000000000123,"MATH,101",10000000000456,"S""1",10000000000789,,0.30000000000000004,"incomplete, see ""notes""",5,,,,false,2026-03-08T09:00:00.123Z\r\n' +
      'course,upsert,10000000000001,10000000000123,"MATH,101",10000000000456,"S""1",,,0.5,,,88.5,5,0.5,,2026-03-08T10:00:00.000Z\r\n';
    const bytes = encodeCsv(ROWS);
    expect(Buffer.from(bytes).equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect([...bytes.slice(0, 3)]).not.toEqual([0xef, 0xbb, 0xbf]); // no BOM
  });

  it('prints numbers as JavaScript does', () => {
    const plain = { course_sis_id: 'MATH101', student_sis_id: 'S1' };
    const line = (score: number) => text(encodeCsv([assignmentRow({ score, ...plain })])).split('\r\n')[1]!.split(',')[9];
    expect([17.31, 5, 0.5, 0, -0, 1e21, 1.5e-7, -2.25].map(line)).toEqual(['17.31', '5', '0.5', '0', '0', '1e+21', '1.5e-7', '-2.25']);
  });

  it('writes UTF-8 without BOM and quotes only what needs it', () => {
    const row = assignmentRow({ course_sis_id: 'Café été', student_sis_id: '学生 1', grade: "B+ it's fine" });
    expect(text(encodeCsv([row])).split('\r\n')[1]).toBe(
      "assignment,upsert,10000000000001,10000000000123,Café été,10000000000456,学生 1,10000000000789,,17.31,B+ it's fine,20,,,,true,2026-03-08T09:00:00.123Z",
    );
  });

  it('is a header only for an empty delta', () => {
    expect(text(encodeCsv([]))).toBe(HEADER);
  });

  it('streams the same bytes in chunks, and refuses unsorted rows', async () => {
    const many = sortRows(Array.from({ length: 3000 }, (_, i) => assignmentRow({ assignment_id: String(i + 1) })));
    const chunks: Uint8Array[] = [];
    for await (const chunk of csvChunks(many, 16 * 1024)) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(3);
    expect(Buffer.concat(chunks).equals(Buffer.from(encodeCsv(many)))).toBe(true);
    const unsorted = [ROWS[2]!, ROWS[1]!];
    expect(() => encodeCsv(unsorted)).toThrow(InternalError);
    await expect(readAll(csvChunks(unsorted))).rejects.toThrow(InternalError);
    expect(() => encodeCsv([ROWS[1]!, ROWS[1]!])).toThrow(/twice/);
  });
});

describe('JSON Lines', () => {
  it('writes the same fields, ids as strings, null as null, changed_at ISO', async () => {
    const expected =
      '{"record_type":"assignment","op":"upsert","root_account_id":"10000000000001","course_id":"10000000000123","course_sis_id":"MATH,101","student_id":"10000000000456","student_sis_id":"S\\"1","assignment_id":"10000000000789","grading_period_id":null,"score":17.31,"grade":"A-","points_possible":20,"current_score":null,"final_score":null,"override_score":null,"grading_complete":true,"changed_at":"2026-03-08T09:00:00.123Z"}\n' +
      '{"record_type":"course","op":"upsert","root_account_id":"10000000000001","course_id":"10000000000123","course_sis_id":"MATH,101","student_id":"10000000000456","student_sis_id":"S\\"1","assignment_id":null,"grading_period_id":null,"score":0.5,"grade":null,"points_possible":null,"current_score":88.5,"final_score":5,"override_score":0.5,"grading_complete":null,"changed_at":"2026-03-08T10:00:00.000Z"}\n';
    const rows = [assignmentRow(), courseRow()];
    expect(text(encodeJsonl(rows))).toBe(expected);
    expect(text(await readAll(jsonlChunks(rows)))).toBe(expected);
    expect(encodeJsonl([])).toHaveLength(0);
  });
});

describe('OneRoster 1.1 gradebook CSV', () => {
  const rows = sortRows([
    assignmentRow(),
    assignmentRow({ student_id: '10000000000457', student_sis_id: 'S2', score: null, grading_complete: false, changed_at: Date.parse('2026-03-09T00:00:00Z') }),
    courseRow(),
    courseRow({ grading_period_id: '7', op: 'delete', changed_at: Date.parse('2026-03-07T00:00:00Z') }),
  ]);

  it('writes manifest.csv, lineItems.csv and results.csv', () => {
    const files = Object.fromEntries(oneRosterFiles(rows).map((f) => [f.name, text(f.bytes)]));
    expect(Object.keys(files)).toEqual(['manifest.csv', 'lineItems.csv', 'results.csv']);
    expect(files['manifest.csv']).toBe(
      [
        'propertyName,value',
        'manifest.version,1.0',
        'oneroster.version,1.1',
        'file.academicSessions,absent',
        'file.categories,absent',
        'file.classes,absent',
        'file.classResources,absent',
        'file.courses,absent',
        'file.courseResources,absent',
        'file.demographics,absent',
        'file.enrollments,absent',
        'file.lineItems,delta',
        'file.orgs,absent',
        'file.resources,absent',
        'file.results,delta',
        'file.users,absent',
        'source.systemName,gradestream',
        '',
      ].join('\r\n'),
    );
    expect(files['lineItems.csv']).toBe(
      [
        'sourcedId,status,dateLastModified,title,description,assignDate,dueDate,classSourcedId,categorySourcedId,gradingPeriodSourcedId,resultValueMin,resultValueMax',
        'li-10000000000789,active,2026-03-09T00:00:00.000Z,Assignment 10000000000789,,,,"MATH,101",,,0,20',
        'li-course-10000000000123,active,2026-03-08T10:00:00.000Z,Course grade,,,,"MATH,101",,,0,100',
        'li-course-10000000000123-gp-7,active,2026-03-07T00:00:00.000Z,Course grade (grading period 7),,,,"MATH,101",,,0,100',
        '',
      ].join('\r\n'),
    );
    expect(files['results.csv']).toBe(
      [
        'sourcedId,status,dateLastModified,lineItemSourcedId,studentSourcedId,scoreStatus,score,scoreDate,comment',
        'r-li-10000000000789-10000000000456,active,2026-03-08T09:00:00.123Z,li-10000000000789,"S""1",fully graded,17.31,2026-03-08,',
        'r-li-course-10000000000123-10000000000456,active,2026-03-08T10:00:00.000Z,li-course-10000000000123,"S""1",fully graded,0.5,2026-03-08,',
        'r-li-course-10000000000123-gp-7-10000000000456,tobedeleted,2026-03-07T00:00:00.000Z,li-course-10000000000123-gp-7,"S""1",fully graded,0.5,2026-03-07,',
        'r-li-10000000000789-10000000000457,active,2026-03-09T00:00:00.000Z,li-10000000000789,S2,submitted,,2026-03-09,',
        '',
      ].join('\r\n'),
    );
  });

  it('zips the three files deterministically', () => {
    const files = oneRosterFiles(rows);
    const zip = zipOneRoster(files);
    expect(Buffer.from(zipOneRoster(oneRosterFiles(rows))).equals(Buffer.from(zip))).toBe(true);
    const unzipped = unzipSync(zip);
    expect(Object.keys(unzipped)).toEqual(['manifest.csv', 'lineItems.csv', 'results.csv']);
    for (const file of files) expect(Buffer.from(unzipped[file.name]!).equals(Buffer.from(file.bytes))).toBe(true);
  });

  it('is headers only for an empty delta', () => {
    const files = oneRosterFiles([]);
    expect(files.map((f) => text(f.bytes).split('\r\n').length)).toEqual([18, 2, 2]); // lines + the empty string after the last CRLF
  });
});

describe('encodeBatch', () => {
  it('names the file after the batch and streams it again on every read', async () => {
    const rows = sortRows([courseRow(), assignmentRow()]);
    const csv = await encodeBatch('csv', 'b-1', rows);
    expect(csv.name).toBe('gradestream-b-1.csv');
    expect(csv.contentType).toMatch(/^text\/csv/);
    const first = await readAll(csv.bytes);
    expect(Buffer.from(first).equals(Buffer.from(encodeCsv(rows)))).toBe(true);
    expect(Buffer.from(await readAll(csv.bytes)).equals(Buffer.from(first))).toBe(true);

    const jsonl = await encodeBatch('jsonl', 'b-1', () => rows.values());
    expect(jsonl.name).toBe('gradestream-b-1.jsonl');
    expect(text(await readAll(jsonl.bytes))).toBe(text(encodeJsonl(rows)));

    const oneroster = await encodeBatch('oneroster', 'b-1', rows);
    expect(oneroster.name).toBe('gradestream-b-1.zip');
    expect(Object.keys(unzipSync(await readAll(oneroster.bytes)))).toEqual(['manifest.csv', 'lineItems.csv', 'results.csv']);
  });
});

describe('row encoders written field by field', () => {
  it('give the same text as the plain definitions, column by column', () => {
    fc.assert(
      fc.property(arbitraryRow(), (row) => {
        expect(csvRow(row)).toBe(csvLine(FEED_COLUMNS.map((c) => feedFieldText(row, c))));
        const object = Object.fromEntries(FEED_COLUMNS.map((c) => [c, c === 'changed_at' ? formatInstant(row.changed_at) : row[c]]));
        expect(jsonlRow(row)).toBe(`${JSON.stringify(object)}\n`);
      }),
    );
  });
});
