import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import { cli } from '../support/cli.js';
import { fixtureText } from '../support/events.js';
import { IDS, courseGradeChange, gradeChange, gradeOverride, line } from '../support/grades.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'gradestream-replay-'));
let n = 0;
const stateUrl = () => `sqlite:${join(dir, `state-${++n}`, 'gradestream.db')}`;
const file = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
};

const events = [
  line(gradeChange('2020-01-02T00:00:00Z', { score: 4 })), // 1 applied
  line(gradeChange('2020-01-02T00:00:00Z', { score: 4 })), // 2 duplicate
  line(gradeChange('2020-01-01T00:00:00Z', { score: 3 })), // 3 stale
  JSON.stringify({ metadata: { event_name: 'submission_created' }, body: { assignment_id: '1', submission_id: '2' } }), // 4 ignored
  '{"metadata":', // 5 quarantined: malformed_json
  line(courseGradeChange('2020-01-01T00:00:00Z')), // 6 applied
  '', // 7 blank: not a message
  line(gradeOverride('2020-01-01T00:00:00')), // 8 quarantined: timestamp_without_offset
  line(gradeOverride('2020-01-01T00:00:00Z', { override_score: 91.5 })), // 9 applied
];
const mixed = file('mixed.jsonl', events);

describe('gradestream replay', () => {
  it('folds a file and reports exact counts as JSON; quarantine keeps file:line', async () => {
    const state = stateUrl();
    const r = await cli(['replay', mixed, '--json', '--state', state]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"received":8,"applied":3,"stale":1,"duplicate":1,"ignored":1,"quarantined":2}\n');

    const store = await openStore(state);
    try {
      const q = await store.listQuarantine({ limit: 10 });
      expect(q.map((e) => [e.source, e.position, e.reason])).toEqual([
        ['replay', `${mixed}:5`, 'malformed_json'],
        ['replay', `${mixed}:8`, 'timestamp_without_offset'],
      ]);
      expect(q[0]!.raw).toBe('{"metadata":');
      expect(q[1]!.detail).toContain('metadata.event_time');
    } finally {
      await store.close();
    }

    // Again: everything is already known, and the quarantine does not grow.
    const again = await cli(['replay', mixed, '--json', '--state', state]);
    expect(again.stdout).toBe('{"received":8,"applied":0,"stale":1,"duplicate":4,"ignored":1,"quarantined":2}\n');
    const reopened = await openStore(state);
    expect((await reopened.counts()).quarantine).toBe(2);
    await reopened.close();
  });

  it('gives the same counts whatever the batch size (one transaction per batch)', async () => {
    const r = await cli(['replay', mixed, '--json', '--batch-size', '1', '--state', stateUrl()]);
    expect(r.stdout).toBe('{"received":8,"applied":3,"stale":1,"duplicate":1,"ignored":1,"quarantined":2}\n');
  });

  it('prints one summary line without --json, and reads stdin for -', async () => {
    const state = stateUrl();
    const r = await cli(['replay', '-'], events.join('\n'), { GRADESTREAM_STATE_URL: state });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('8 received: 3 applied, 1 stale, 1 duplicate, 1 ignored, 2 quarantined\n');
    const store = await openStore(state);
    expect((await store.listQuarantine({ limit: 10 })).map((e) => e.position)).toEqual(['stdin:5', 'stdin:8']);
    await store.close();
  });

  it('reads past a UTF-8 byte order mark at the start of a file', async () => {
    const bom = file('bom.jsonl', ['\ufeff' + events[0]!, events[5]!]);
    const r = await cli(['replay', bom, '--json', '--state', stateUrl()]);
    expect(r.stdout).toBe('{"received":2,"applied":2,"stale":0,"duplicate":0,"ignored":0,"quarantined":0}\n');
  });

  it('replays several files in turn, --state winning over the environment', async () => {
    const state = stateUrl();
    // The documentation's grade_change (2019) is older than mixed.jsonl's on the same key: stale.
    const other = file('other.jsonl', [fixtureText('grade_change'), fixtureText('course_grade_change')]);
    const r = await cli(['replay', mixed, other, '--json', '--state', state], '', { GRADESTREAM_STATE_URL: 'sqlite:/nonexistent/x.db' });
    expect(r.stdout).toBe('{"received":10,"applied":3,"stale":3,"duplicate":1,"ignored":1,"quarantined":2}\n');
  });

  it('exits 2 for an unreadable file, before writing anything', async () => {
    const state = stateUrl();
    const r = await cli(['replay', mixed, join(dir, 'missing.jsonl'), '--state', state]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^gradestream: cannot read .*missing\.jsonl: ENOENT\n$/);
    expect(existsSync(state.slice('sqlite:'.length))).toBe(false);
  });

  it('exits 2 for bad arguments', async () => {
    expect((await cli(['replay'])).code).toBe(2);
    expect((await cli(['replay', mixed, '--state', 'mysql://x'])).code).toBe(2);
    expect((await cli(['replay', mixed, '--batch-size', '0', '--state', stateUrl()])).code).toBe(2);
  });

  it('exits 1 when the store cannot be reached', async () => {
    const r = await cli(['replay', mixed, '--state', 'postgres://postgres@127.0.0.1:1/none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gradestream: state store postgres:\/\/postgres@127\.0\.0\.1:1\/none unavailable/);
  });
});

describe('gradestream inspect', () => {
  let pg: TestDatabase;
  afterAll(async () => pg?.drop());

  it('shows what a replay folded, as JSON and as text, on PostgreSQL too', async () => {
    pg = await createTestDatabase();
    for (const state of [stateUrl(), pg.url]) {
      expect((await cli(['replay', mixed, '--state', state])).code).toBe(0);
      const r = await cli(['inspect', '--student', IDS.gcStudent, '--json', '--state', state]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({
        student_id: IDS.gcStudent,
        student_sis_id: 'ABC.123',
        assignment_scores: [
          {
            assignment_id: IDS.gcAssignment,
            course_id: IDS.gcCourse,
            submission_id: '21070000000011086',
            score: 4,
            grade: '5',
            points_possible: 1,
            grading_complete: true,
            muted: false,
            grader_id: '21070000000000987',
            instant: '2020-01-02T00:00:00.000Z',
          },
        ],
        course_scores: [],
        course_overrides: [],
        courses: [{ course_id: IDS.gcCourse, course_sis_id: '2017.100.101.101-1', root_account_id: '21070000000000001' }],
      });
      const text = await cli(['inspect', '--student', IDS.goStudent, '--course', IDS.goCourse, '--state', state]);
      expect(text.stdout).toBe(
        [
          `student ${IDS.goStudent} (SIS id -)`,
          `  course ${IDS.goCourse} (SIS id -, root account 21070000000000001)`,
          `    override (grading period ${IDS.goPeriod}): 91.5, at 2020-01-01T00:00:00.000Z`,
          '',
        ].join('\n'),
      );
    }
  });

  it('finds a student by SIS id, and hints at global ids when a local one finds nothing, on PostgreSQL too', async () => {
    pg ??= await createTestDatabase();
    for (const state of [stateUrl(), pg.url]) {
      expect((await cli(['replay', mixed, '--state', state])).code).toBe(0);
      const bySis = await cli(['inspect', '--student-sis', 'ABC.123', '--json', '--state', state]);
      expect(bySis.code).toBe(0);
      expect(JSON.parse(bySis.stdout)).toMatchObject({ student_id: IDS.gcStudent, student_sis_id: 'ABC.123' });
      const nobody = await cli(['inspect', '--student-sis', 'NOBODY.1', '--json', '--state', state]);
      expect(nobody.code).toBe(1);
      expect(JSON.parse(nobody.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/no student has SIS id "NOBODY.1"/) } });

      // Canvas's pages show the local id (48); the store keys the global one, in the shard it knows.
      const local = await cli(['inspect', '--student', '48', '--state', state]);
      expect(local).toMatchObject({ code: 0, stdout: expect.stringContaining('no grades stored') });
      expect(local.stderr).toMatch(/48 looks like a local Canvas id.*try --student .*21070000000000048/);
      expect((await cli(['inspect', '--student', IDS.gcStudent, '--state', state])).stderr).toBe('');
    }
    expect((await cli(['inspect', '--student', '1', '--student-sis', 'X', '--state', stateUrl()])).code).toBe(2);
  });

  it('rejects a non-canonical id (exit 2) and a missing SQLite store (exit 1)', async () => {
    expect((await cli(['inspect', '--student', '12ab', '--state', stateUrl()])).code).toBe(2);
    expect((await cli(['inspect', '--state', stateUrl()])).code).toBe(2);
    const missing = await cli(['inspect', '--student', '1', '--state', stateUrl()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no state store at sqlite:/);
  });
});
