import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareRows, compareText, FEED_COLUMNS, FeedRow, sortRows } from '../../src/sync/feed-row.js';
import { createHash } from 'node:crypto';
import { viewDigest } from '../../src/sync/view.js';
import { arbitraryRow, assignmentRow, courseRow } from './rows.js';

describe('feed row', () => {
  it('has the SPEC §6 columns, in the order of the Avro schema', async () => {
    expect(FEED_COLUMNS.join(',')).toBe(
      'record_type,op,root_account_id,course_id,course_sis_id,student_id,student_sis_id,assignment_id,grading_period_id,score,grade,points_possible,current_score,final_score,override_score,grading_complete,changed_at',
    );
    const avsc = JSON.parse(await readFile('schemas/sis-feed-row.avsc', 'utf8')) as { fields: { name: string }[] };
    expect(avsc.fields.map((f) => f.name)).toEqual([...FEED_COLUMNS]);
    expect(Object.keys(FeedRow.shape)).toEqual([...FEED_COLUMNS]);
  });

  it('accepts well-formed rows and refuses values on the wrong record type', () => {
    expect(FeedRow.safeParse(assignmentRow()).success).toBe(true);
    expect(FeedRow.safeParse(courseRow()).success).toBe(true);
    const paths = (row: unknown) => FeedRow.safeParse(row).error?.issues.map((i) => i.path.join('.'));
    expect(paths(courseRow({ assignment_id: '1', grading_complete: false }))).toEqual(['assignment_id', 'grading_complete']);
    expect(paths(assignmentRow({ final_score: 1, grading_complete: null }))).toEqual(['final_score', 'grading_complete']);
    expect(paths(assignmentRow({ assignment_id: null }))).toEqual(['assignment_id']);
    expect(paths(assignmentRow({ student_id: '01' }))).toEqual(['student_id']);
    expect(paths(assignmentRow({ score: Number.NaN }))).toEqual(['score']);
  });
});

describe('sort order (SPEC §6)', () => {
  it('course SIS id, student SIS id, assignment before course, assignment id numerically, grading period', () => {
    const a = (assignment_id: string, extra: Partial<FeedRow> = {}) => assignmentRow({ assignment_id, ...extra });
    const c = (grading_period_id: string | null, extra: Partial<FeedRow> = {}) => courseRow({ grading_period_id, ...extra });
    const expected = [
      a('5', { course_sis_id: 'BIO' }),
      a('9'),
      a('10'),
      a('9007199254740992'), // 2^53
      a('9007199254740993'), // 2^53 + 1: equal to 2^53 as a JS number
      a('9223372036854775807'),
      c(null),
      c('2'),
      c('10'),
      a('1', { student_sis_id: 'S2' }),
      a('1', { course_sis_id: 'math,101' }), // lowercase after uppercase: code points, not locale
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(expected, { minLength: expected.length }), (shuffled) => {
        expect(sortRows(shuffled)).toEqual(expected);
      }),
    );
  });

  it('compares SIS ids by code point (UTF-8 byte order), never by locale', () => {
    const sorted = ['b', 'a', 'B', 'é', 'z', '\u{1D538}', '\uFF21', ''].sort(compareText);
    expect(sorted).toEqual(['', 'B', 'a', 'b', 'z', 'é', '\uFF21', '\u{1D538}']);
    const utf8 = (s: string) => Buffer.from(s, 'utf8');
    // Whole code points (no lone surrogates), weighted to the ranges where UTF-16 and UTF-8 order differ.
    const codePoint = fc
      .oneof(fc.integer({ min: 0x20, max: 0x7f }), fc.integer({ min: 0xd700, max: 0xffff }), fc.integer({ min: 0x10000, max: 0x10ffff }))
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c));
    const text = fc.string({ unit: codePoint, maxLength: 4 });
    fc.assert(
      fc.property(text, text, (x, y) => {
        expect(Math.sign(compareText(x, y))).toBe(Math.sign(Buffer.compare(utf8(x), utf8(y))));
      }),
    );
  });

  it('never ties two different rows', () => {
    const twin = courseRow({ course_id: '10000000000999' }); // another Canvas course with the same SIS id
    expect(compareRows(courseRow(), twin)).toBeLessThan(0);
    expect(compareRows(courseRow({ op: 'delete' }), courseRow())).toBeLessThan(0);
    expect(compareRows(courseRow(), courseRow())).toBe(0);
  });

  it('digests the view as every column but changed_at, in FEED_COLUMNS order (the ledger compares these)', () => {
    const plain = (row: FeedRow) =>
      createHash('sha256')
        .update(JSON.stringify(FEED_COLUMNS.filter((c) => c !== 'changed_at').map((c) => row[c])))
        .digest('hex')
        .slice(0, 32);
    fc.assert(fc.property(arbitraryRow(), (row) => viewDigest(row) === plain(row)));
    expect(viewDigest(assignmentRow())).toBe(viewDigest(assignmentRow({ changed_at: 0 })));
  });
});
