import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NormalisedEvent } from '../../src/intake/records.js';
import { fingerprint } from '../../src/state/fingerprint.js';
import type { QuarantineEntry, TaughtMapping } from '../../src/state/store.js';
import { ASSIGNMENT_NAMES, STUDENT_SIS_IDS } from '../../src/state/tables.js';
import type { RowReader } from '../../src/state/view.js';
import { IDS, courseGradeChange, gradeChange, gradeOverride, record } from '../support/grades.js';
import { backends, openTestStore, type TestStore } from '../support/stores.js';

/** One contract, both backends (SPEC §2: "Both pass the same contract tests"). */
describe.each(backends)('state store contract ($name)', (backend) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await t.cleanup();
  });
  const apply = (...records: NormalisedEvent[]) => t.store.apply({ records, quarantine: [] });
  const assignment = async (student: string = IDS.gcStudent) => (await t.store.inspect(student)).assignment_scores;

  it('keeps the latest record per key: later instants win, older ones are stale', async () => {
    const older = record(gradeChange('2020-01-01T00:00:00Z', { score: 1, grade: '1' }));
    const newer = record(gradeChange('2020-01-02T00:00:00Z', { score: 2, grade: '2' }));
    expect(await apply(older)).toEqual(['applied']);
    expect(await apply(newer)).toEqual(['applied']);
    expect(await apply(older)).toEqual(['stale']);
    expect(await assignment()).toEqual([
      {
        assignment_id: IDS.gcAssignment,
        course_id: IDS.gcCourse,
        submission_id: '21070000000011086',
        score: 2,
        grade: '2',
        points_possible: 1,
        grading_complete: true,
        muted: false,
        grader_id: '21070000000000987',
        instant: '2020-01-02T00:00:00.000Z',
      },
    ]);
  });

  it("keeps the latest event's course on an assignment row, and finds the row by it", async () => {
    // The SQLite fold writes an assignment's course apart from its other values (it hardly changes).
    const inCourse = (at: string, course: string | null, score = 1): NormalisedEvent => {
      const r = record(gradeChange(at, { score }));
      if (r.kind !== 'grade_change') throw new Error('expected a grade_change');
      return { ...r, course_id: course };
    };
    expect(await apply(inCourse('2020-01-01T00:00:00Z', '21070000000000101'))).toEqual(['applied']);
    expect(await apply(inCourse('2020-01-02T00:00:00Z', '21070000000000102', 3), inCourse('2019-12-31T00:00:00Z', '21070000000000103'))).toEqual([
      'applied',
      'stale',
    ]);
    expect((await assignment()).map((a) => [a.course_id, a.score])).toEqual([['21070000000000102', 3]]);
    expect((await t.store.inspect(IDS.gcStudent, '21070000000000102')).assignment_scores).toHaveLength(1);
    expect((await t.store.inspect(IDS.gcStudent, '21070000000000101')).assignment_scores).toHaveLength(0);
    expect(await apply(inCourse('2020-01-03T00:00:00Z', null))).toEqual(['applied']);
    expect((await assignment())[0]?.course_id).toBe(null);
    expect(await apply(inCourse('2020-01-04T00:00:00Z', null, 4))).toEqual(['applied']);
    expect((await assignment()).map((a) => [a.course_id, a.score])).toEqual([[null, 4]]);
  });

  it('orders by the UTC instant, never by the timestamp text', async () => {
    // 10:00+02:00 is 08:00Z: earlier than 09:00Z although its text sorts later.
    const early = record(gradeChange('2020-01-01T10:00:00+02:00', { score: 1 }));
    const late = record(gradeChange('2020-01-01T09:00:00Z', { score: 2 }));
    expect(await apply(late, early)).toEqual(['applied', 'stale']);
    expect((await assignment())[0]?.score).toBe(2);
  });

  it('counts exact repeats as duplicates, within a batch and across batches', async () => {
    const e = record(gradeChange('2020-01-01T00:00:00Z'));
    expect(await apply(e, e)).toEqual(['applied', 'duplicate']);
    expect(await apply(e)).toEqual(['duplicate']);
    expect((await t.store.counts()).assignment_score).toBe(1);
  });

  it('folds a batch in input order: outcomes per record, whatever shares a key', async () => {
    const a1 = record(gradeChange('2020-01-01T00:00:00Z', { score: 1 }));
    const a2 = record(gradeChange('2020-01-02T00:00:00Z', { score: 2 }));
    const other = record(gradeChange('2020-01-01T00:00:00Z', { assignment_id: '21070000000000356' }));
    const course = record(courseGradeChange('2020-01-01T00:00:00Z'));
    const override = record(gradeOverride('2020-01-01T00:00:00Z'));
    expect(await apply(a1, a2, a1, other, a2, course, override, course)).toEqual([
      'applied', // a1: first on its key
      'applied', // a2: later than a1
      'stale', // a1 again: a2 is stored now
      'applied',
      'duplicate',
      'applied',
      'applied',
      'duplicate',
    ]);
    expect((await assignment()).map((a) => [a.assignment_id, a.score])).toEqual([
      [IDS.gcAssignment, 2],
      ['21070000000000356', 5],
    ]);
  });

  it('breaks equal instants by fingerprint, the same way in any order', async () => {
    const at = '2020-03-01T12:00:00Z';
    const a = record(gradeChange(at, { score: 3 }));
    const b = record(gradeChange(at, { score: 4 }));
    const [winner, loser] = fingerprint(a) > fingerprint(b) ? [a, b] : [b, a];
    expect(await apply(loser)).toEqual(['applied']);
    expect(await apply(winner)).toEqual(['applied']);
    expect(await apply(loser)).toEqual(['stale']);
    expect(await apply(winner)).toEqual(['duplicate']);
    expect((await assignment())[0]?.score).toBe((winner as { score: number }).score);
  });

  it('learns the student SIS id from grade_change only, latest instant wins, even from a stale event', async () => {
    const sis = async () => (await t.store.inspect(IDS.gcStudent)).student_sis_id;
    // The acting user's metadata.user_sis_id ("456-T45") is never the student's.
    expect(await apply(record(gradeChange('2020-01-05T00:00:00Z', { student_sis_id: null })))).toEqual(['applied']);
    expect(await sis()).toBeNull();
    // Stale for its assignment (a later record is stored), but the newest word on the mapping.
    expect(await apply(record(gradeChange('2020-01-03T00:00:00Z', { student_sis_id: 'S-3' })))).toEqual(['stale']);
    expect(await sis()).toBe('S-3');
    // Applied for another assignment, but older than what taught the mapping.
    const other = record(gradeChange('2020-01-02T00:00:00Z', { assignment_id: '21070000000000356', student_sis_id: 'S-2' }));
    expect(await apply(other)).toEqual(['applied']);
    expect(await sis()).toBe('S-3');
    await apply(record(gradeChange('2020-01-09T00:00:00Z', { assignment_id: '21070000000000357', student_sis_id: 'S-9' })));
    expect(await sis()).toBe('S-9');
  });

  it("moves a mapping's change number only when its value changes, though a later event's version is kept", async () => {
    const reader = t.store as unknown as RowReader;
    const mapping = async () => (await reader.select(STUDENT_SIS_IDS, { student_id: IDS.gcStudent }))[0]!;
    await apply(record(gradeChange('2020-01-01T00:00:00Z', { student_sis_id: 'S-1' })));
    const first = await mapping();
    // Re-taught the same value by a later event: the later version, the same change number.
    await apply(record(gradeChange('2020-01-02T00:00:00Z', { assignment_id: '21070000000000356', student_sis_id: 'S-1' })));
    const same = await mapping();
    expect(same.instant).toBeGreaterThan(first.instant);
    expect(same.seq).toBe(first.seq);
    // A new value: a new change number.
    await apply(record(gradeChange('2020-01-03T00:00:00Z', { assignment_id: '21070000000000357', student_sis_id: 'S-2' })));
    const changed = await mapping();
    expect(changed.student_sis_id).toBe('S-2');
    expect(BigInt(changed.seq)).toBeGreaterThan(BigInt(same.seq));
  });

  it('learns course SIS id and root account from any event about the course', async () => {
    await apply(record(courseGradeChange('2020-01-01T00:00:00Z')));
    let s = await t.store.inspect(IDS.cgcStudent);
    expect(s.courses).toEqual([{ course_id: IDS.cgcCourse, course_sis_id: '194387', root_account_id: '10000000000001' }]);
    // A later event renames the course's SIS id; an earlier one does not.
    await apply(record(courseGradeChange('2020-01-03T00:00:00Z', {}, { context_sis_source_id: 'C-3' })));
    await apply(record(courseGradeChange('2020-01-02T00:00:00Z', {}, { context_sis_source_id: 'C-2' })));
    s = await t.store.inspect(IDS.cgcStudent);
    expect(s.courses[0]?.course_sis_id).toBe('C-3');
    // grade_override about course 46 in context course 123: no SIS id for 46, but its root account.
    await apply(record(gradeOverride('2020-01-01T00:00:00Z')));
    expect((await t.store.inspect(IDS.goStudent)).courses).toEqual([
      { course_id: IDS.goCourse, course_sis_id: null, root_account_id: '21070000000000001' },
    ]);
  });

  it('learns mappings taught directly (a provisioning report, a Canvas read) by the same rule, and assignment names from events', async () => {
    const reader = t.store as unknown as RowReader;
    const at = (iso: string) => Date.parse(iso);
    const teach = (mappings: TaughtMapping[]) => t.store.apply({ records: [], quarantine: [], mappings });
    expect(await teach([
      { table: 'student_sis_ids', key: IDS.gcStudent, value: 'S-1', instant: at('2020-01-01T00:00:00Z') },
      { table: 'course_sis_ids', key: IDS.gcCourse, value: 'C-1', instant: at('2020-01-01T00:00:00Z') },
    ])).toEqual([]);
    const sis = async () => (await reader.select(STUDENT_SIS_IDS, { student_id: IDS.gcStudent }))[0]?.['student_sis_id'];
    expect(await sis()).toBe('S-1');
    // An event after it wins; a report older than the event does not.
    await apply(record(gradeChange('2020-01-02T00:00:00Z', { student_sis_id: 'ABC.123', assignment_name: 'Essay 1' })));
    await teach([{ table: 'student_sis_ids', key: IDS.gcStudent, value: 'S-old', instant: at('2020-01-01T12:00:00Z') }]);
    expect(await sis()).toBe('ABC.123');
    await teach([{ table: 'student_sis_ids', key: IDS.gcStudent, value: 'S-3', instant: at('2020-01-03T00:00:00Z') }]);
    expect(await sis()).toBe('S-3');
    const names = async () => (await reader.select(ASSIGNMENT_NAMES, {})).map((r) => [r['assignment_id'], r['name']]);
    expect(await names()).toEqual([[IDS.gcAssignment, 'Essay 1']]);
    // Two names at one instant, from events of one fingerprint: the same winner in either order.
    const one = record(gradeChange('2020-01-04T00:00:00Z', { assignment_name: 'Essay A' }));
    const two = record(gradeChange('2020-01-04T00:00:00Z', { assignment_name: 'Essay B' }));
    await apply(two, one);
    const winner = (await names())[0]![1];
    expect(['Essay A', 'Essay B']).toContain(winner);
    await apply(one);
    expect((await names())[0]![1]).toBe(winner);
    expect(await t.store.dump()).toContain('# assignment_names');
  });

  it('keeps course overrides per grading period, with none as its own key, and a cleared one as null', async () => {
    const inPeriod = record(gradeOverride('2020-01-01T00:00:00Z', { override_score: 90 }));
    const noPeriod = record(gradeOverride('2020-01-01T00:00:00Z', { grading_period_id: null, override_score: 80 }));
    const absentPeriod = record(gradeOverride('2020-01-02T00:00:00Z', { grading_period_id: undefined, override_score: 70 }));
    const cleared = record(gradeOverride('2020-01-03T00:00:00Z', { override_score: null }));
    expect(await apply(inPeriod, noPeriod)).toEqual(['applied', 'applied']);
    expect(await apply(absentPeriod)).toEqual(['applied']); // absent is null: the same key as noPeriod
    expect(await apply(cleared)).toEqual(['applied']);
    expect((await t.store.inspect(IDS.goStudent)).course_overrides).toEqual([
      { course_id: IDS.goCourse, grading_period_id: null, override_score: 70, instant: '2020-01-02T00:00:00.000Z' },
      { course_id: IDS.goCourse, grading_period_id: IDS.goPeriod, override_score: null, instant: '2020-01-03T00:00:00.000Z' },
    ]);
    expect((await t.store.counts()).course_override).toBe(2);
  });

  it('keeps a course score whose workflow_state became deleted', async () => {
    await apply(record(courseGradeChange('2020-01-01T00:00:00Z')));
    await apply(record(courseGradeChange('2020-01-02T00:00:00Z', { workflow_state: 'deleted' })));
    expect((await t.store.inspect(IDS.cgcStudent)).course_scores).toEqual([
      {
        course_id: IDS.cgcCourse,
        current_score: 17.31,
        final_score: 12.5,
        unposted_current_score: 17.31,
        unposted_final_score: 12.5,
        workflow_state: 'deleted',
        instant: '2020-01-02T00:00:00.000Z',
      },
    ]);
  });

  it('round-trips ids above 2^53 exactly', async () => {
    const big = { student_id: '9223372036854775807', assignment_id: '9007199254740993', grader_id: '9007199254740995' };
    await apply(record(gradeChange('2020-01-01T00:00:00Z', { ...big, user_id: big.student_id, student_sis_id: 'BIG' })));
    const s = await t.store.inspect('9223372036854775807');
    expect(s.student_sis_id).toBe('BIG');
    expect(s.assignment_scores.map((a) => [a.assignment_id, a.grader_id])).toEqual([['9007199254740993', '9007199254740995']]);
    expect(await t.store.dump()).toContain('"student_id":"9223372036854775807"');
    expect((await t.store.inspect('9223372036854775806')).assignment_scores).toEqual([]);
  });

  it('stores quarantined messages once each, listed in arrival order with their position', async () => {
    const q = (position: string, raw: string): QuarantineEntry => ({
      source: 'replay',
      position,
      reason: 'malformed_json',
      detail: 'not JSON',
      raw,
      received_at: Date.parse('2020-05-01T00:00:00Z'),
    });
    const odd = 'nul \u0000, é, 😀, "quotes"';
    expect(await t.store.apply({ records: [], quarantine: [q('f.jsonl:2', '{'), q('f.jsonl:9', odd)] })).toEqual([]);
    // Redelivered (same source, position, text): not stored again.
    await t.store.apply({ records: [record(gradeChange('2020-01-01T00:00:00Z'))], quarantine: [q('f.jsonl:2', '{')] });
    const all = await t.store.listQuarantine({ limit: 10 });
    expect(all.map(({ id: _, ...e }) => e)).toEqual([
      { source: 'replay', position: 'f.jsonl:2', reason: 'malformed_json', detail: 'not JSON', raw: '{', received_at: '2020-05-01T00:00:00.000Z' },
      { source: 'replay', position: 'f.jsonl:9', reason: 'malformed_json', detail: 'not JSON', raw: odd, received_at: '2020-05-01T00:00:00.000Z' },
    ]);
    const first = await t.store.listQuarantine({ limit: 1 });
    expect(first.map((e) => e.position)).toEqual(['f.jsonl:2']);
    expect((await t.store.listQuarantine({ limit: 5, after: first[0]!.id })).map((e) => e.position)).toEqual(['f.jsonl:9']);
    expect((await t.store.counts()).quarantine).toBe(2);
  });

  it('keeps the exact bytes of a message that is not UTF-8, listed as text and base64, stored once', async () => {
    const bytes = Buffer.concat([Buffer.from('{"grade":"'), Buffer.from([0xc0, 0xaf, 0xff, 0x00]), Buffer.from('"}')]);
    const entry: QuarantineEntry = {
      source: 'webhook',
      position: 'webhook:1',
      reason: 'invalid_utf8',
      detail: 'byte 10 is not valid UTF-8',
      raw: bytes,
      received_at: Date.parse('2020-05-01T00:00:00Z'),
    };
    await t.store.apply({ records: [], quarantine: [entry] });
    await t.store.apply({ records: [], quarantine: [{ ...entry, raw: new Uint8Array(bytes) }] }); // redelivered
    await t.store.apply({ records: [], quarantine: [{ ...entry, position: 'webhook:2', raw: 'plain text' }] });
    const [first, second, ...rest] = await t.store.listQuarantine({ limit: 10 });
    expect(rest).toEqual([]);
    expect(Buffer.from(first!.raw_base64!, 'base64').equals(bytes)).toBe(true);
    expect(first!.raw).toBe(bytes.toString('utf8')); // readable, with U+FFFD where the bytes are not UTF-8
    expect(second).toMatchObject({ raw: 'plain text' });
    expect(second).not.toHaveProperty('raw_base64');
    expect(await t.store.dump()).toContain(`"raw_base64":"${bytes.toString('base64')}"`);
  });

  it('inspects one course, and an unknown student as empty state', async () => {
    await apply(
      record(gradeChange('2020-01-01T00:00:00Z', { student_id: IDS.cgcStudent, user_id: IDS.cgcStudent })),
      record(courseGradeChange('2020-01-01T00:00:00Z')),
    );
    const all = await t.store.inspect(IDS.cgcStudent);
    expect(all.courses.map((c) => c.course_id)).toEqual([IDS.cgcCourse, IDS.gcCourse]);
    const one = await t.store.inspect(IDS.cgcStudent, IDS.gcCourse);
    expect(one.assignment_scores).toHaveLength(1);
    expect(one.course_scores).toEqual([]);
    expect(one.courses.map((c) => c.course_id)).toEqual([IDS.gcCourse]);
    expect(await t.store.inspect('1')).toEqual({
      student_id: '1',
      student_sis_id: null,
      assignment_scores: [],
      course_scores: [],
      course_overrides: [],
      courses: [],
    });
  });

  it('counts rows per kind', async () => {
    await apply(
      record(gradeChange('2020-01-01T00:00:00Z')),
      record(courseGradeChange('2020-01-01T00:00:00Z')),
      record(gradeOverride('2020-01-01T00:00:00Z')),
    );
    expect(await t.store.counts()).toEqual({
      assignment_score: 1,
      course_score: 1,
      course_override: 1,
      student_sis_id: 1,
      course_sis_id: 2, // the grade_change's and the course_grade_change's courses
      course_root_account: 3,
      assignment_name: 0,
      quarantine: 0,
    });
  });

  it('moves the change watermark only when a row changes', async () => {
    expect(await t.store.changeWatermark()).toBe('0');
    await apply(record(gradeChange('2020-01-01T00:00:00Z')));
    const after = BigInt(await t.store.changeWatermark());
    expect(after).toBeGreaterThan(0n);
    await apply(record(gradeChange('2019-01-01T00:00:00Z', { student_sis_id: null }))); // stale, teaches nothing
    await apply(record(gradeChange('2020-01-01T00:00:00Z'))); // duplicate
    if (backend.name === 'sqlite') expect(BigInt(await t.store.changeWatermark())).toBe(after);
    // (PostgreSQL draws numbers for every row offered; only their order is promised.)
    await apply(record(gradeChange('2020-02-01T00:00:00Z')));
    expect(BigInt(await t.store.changeWatermark())).toBeGreaterThan(after);
  });

  it('survives closing and reopening: migrations run once, state stays', async () => {
    await apply(record(gradeChange('2020-01-01T00:00:00Z')));
    const before = await t.store.dump();
    await t.store.close();
    const { openStore } = await import('../../src/state/store.js');
    t.store = await openStore(t.url);
    expect(await t.store.dump()).toBe(before);
    expect(await apply(record(gradeChange('2020-01-01T00:00:00Z')))).toEqual(['duplicate']);
  });
});
