import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowReader } from '../../src/state/view.js';
import { openStore } from '../../src/state/store.js';
import { COURSE_SIS_IDS, STUDENT_SIS_IDS } from '../../src/state/tables.js';
import { cli } from '../support/cli.js';
import { courseGradeChange, gradeChange, IDS, line } from '../support/grades.js';
import { random } from '../support/hostile.js';
import { tempDir } from '../sync/world.js';

/** `gradestream mappings import` (issue 14): SIS ids from Canvas provisioning reports. */
const dir = tempDir('mappings');
let n = 0;
const fresh = () => `sqlite:${join(dir, `state-${++n}.db`)}`;
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const users = file(
  'users.csv',
  '\ufeffcanvas_user_id,user_id,integration_id,login_id,first_name,last_name,status\r\n' +
    '2,ABC.123,,s1,Ann,Lee,active\r\n' + // local id 2 in shard 2107
    '45,"S,45",,s45,"Bo ""B""",Ng,active\r\n' + // quoted fields
    '46,,,t46,Teacher,Only,active\r\n' + // no SIS id: counted, not an error
    'x7,BAD,,,,,active\r\n' + // not an id
    '21070000000000099,GLOBAL-99,,,,,active\r\n', // already global
);
const sisOf = async (state: string, table = STUDENT_SIS_IDS) => {
  const store = await openStore(state);
  try {
    return Object.fromEntries((await (store as unknown as RowReader).select(table, {})).map((r) => [r[table.key[0]!.name], r[table.values[0]!.name]]));
  } finally {
    await store.close();
  }
};

describe('gradestream mappings import', () => {
  it('teaches student SIS ids from a users report, ids made global; bad rows named by line (exit 1)', async () => {
    const state = fresh();
    const r = await cli(['mappings', 'import', users, '--state', state, '--canvas-shard', '2107', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      report: 'users',
      rows: 5,
      taught: 3,
      without_sis_id: 1,
      invalid: 1,
      shard: '2107',
      dry_run: false,
      invalid_rows: [{ line: 5, problem: expect.stringMatching(/"x7" is not a decimal id/) }],
    });
    expect(await sisOf(state)).toEqual({ [IDS.cgcStudent]: 'ABC.123', '21070000000000045': 'S,45', '21070000000000099': 'GLOBAL-99' });
  });

  it('teaches course SIS ids from a courses report; the text form lists bad rows by file:line', async () => {
    const state = fresh();
    const courses = file('courses.csv', 'canvas_course_id,course_id,short_name,long_name,status\n2,MATH-101,M,Math,active\n3,"unterminated\n');
    const r = await cli(['mappings', 'import', courses, '--state', state, '--canvas-shard', '2107']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${courses}:3: not CSV: Quote Not Closed.*\n2 courses rows: 1 SIS ids taught \\(as of .*Z\\), 0 without an SIS id, 1 invalid\n$`));
    expect(await sisOf(state, COURSE_SIS_IDS)).toEqual({ [IDS.cgcCourse]: 'MATH-101' });
  });

  it('takes the shard from the store, and stops (exit 2, nothing written) when there is none or several', async () => {
    const empty = fresh();
    const none = await cli(['mappings', 'import', users, '--state', empty]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--canvas-shard/);
    expect(await sisOf(empty)).toEqual({});

    const known = fresh();
    await cli(['replay', '-', '--state', known], `${line(courseGradeChange('2020-01-01T00:00:00Z'))}\n`); // root account 10000000000001: shard 1
    const r = await cli(['mappings', 'import', users, '--state', known, '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ shard: '1', taught: 3 });
    expect(Object.keys(await sisOf(known))).toContain('10000000000002');

    await cli(['replay', '-', '--state', known], `${line(courseGradeChange('2020-01-01T00:00:00Z', { course_id: '7' }, { root_account_id: '21070000000000001', context_id: '21070000000000007' }))}\n`);
    const several = await cli(['mappings', 'import', users, '--state', known]);
    expect(several.code).toBe(2);
    expect(several.stderr).toMatch(/shards 1, 2107: give --canvas-shard/);
  });

  it('folds at --as-of by the same rule as events: a later event wins, an earlier one does not', async () => {
    const state = fresh();
    const report = file('one.csv', 'canvas_user_id,user_id\n48,FROM-REPORT\n');
    await cli(['replay', '-', '--state', state], `${line(gradeChange('2020-06-01T00:00:00Z', { student_sis_id: 'FROM-EVENT' }))}\n`);
    await cli(['mappings', 'import', report, '--state', state, '--canvas-shard', '2107', '--as-of', '2020-05-01T00:00:00Z']);
    expect((await sisOf(state))[IDS.gcStudent]).toBe('FROM-EVENT');
    await cli(['mappings', 'import', report, '--state', state, '--canvas-shard', '2107', '--as-of', '2020-07-01T00:00:00+02:00']);
    expect((await sisOf(state))[IDS.gcStudent]).toBe('FROM-REPORT');
    const dry = await cli(['mappings', 'import', report, '--state', fresh(), '--canvas-shard', '2107', '--dry-run', '--json']);
    expect(JSON.parse(dry.stdout)).toMatchObject({ taught: 1, dry_run: true });
    expect((await cli(['mappings', 'import', report, '--state', state, '--canvas-shard', '2107', '--as-of', 'yesterday'])).code).toBe(2);
  });

  it('refuses a file that is no provisioning report (exit 2)', async () => {
    const r = await cli(['mappings', 'import', file('other.csv', 'a,b\n1,2\n'), '--state', fresh(), '--canvas-shard', '2107']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a Canvas provisioning report/);
    expect((await cli(['mappings', 'import', file('empty.csv', ''), '--state', fresh(), '--canvas-shard', '2107'])).code).toBe(2);
    expect((await cli(['mappings', 'import', users, '--state', fresh(), '--canvas-shard', 'abc'])).stderr).toMatch(/--canvas-shard/);
  });
});

describe('a report clears student_unmapped holds', () => {
  it('a course score held for want of the student SIS id is no longer held once the report teaches it', async () => {
    const state = fresh();
    const schedules = file('schedules.yaml', '- {id: nightly, hourOfDay: 2, postedBy: Registrar}\n');
    const env = { GRADESTREAM_SCHEDULES_FILE: schedules, GRADESTREAM_SINK_URL: `file:${join(dir, 'outbox')}` };
    await cli(['replay', '-', '--state', state], `${line(courseGradeChange('2020-01-01T00:00:00Z'))}\n`);
    const held = async () => JSON.parse((await cli(['held', '--json', '--state', state], '', env)).stdout) as unknown;
    expect(JSON.stringify(await held())).toContain('student_unmapped');
    const report = file('two.csv', 'canvas_user_id,user_id\n2,S-2\n');
    // (The documentation's example puts its root account in shard 1 and its course in 2107.)
    expect((await cli(['mappings', 'import', report, '--state', state, '--canvas-shard', '2107'], '', env)).code).toBe(0);
    expect(JSON.stringify(await held())).not.toContain('student_unmapped');
  });
});

describe('hostile provisioning reports', () => {
  it('300 seeded broken files: every one ends with exit 0, 1 or 2 and a one-line reason, never a crash', async () => {
    const rnd = random(14);
    const int = (n: number) => Math.floor(rnd() * n);
    const pieces = ['canvas_user_id', 'user_id', ',', '"', '""', '\r\n', '\n', '\u0000', '\ufeff', 'é', '\ud800', '12', '-3', 'x'.repeat(5000), '99999999999999999999', ' '];
    const state = fresh();
    for (let i = 0; i < 300; i++) {
      const header = rnd() < 0.7 ? 'canvas_user_id,user_id\n' : '';
      const body = Array.from({ length: int(40) }, () => pieces[int(pieces.length)]).join('');
      const bytes = rnd() < 0.1 ? Buffer.from(Array.from({ length: int(200) }, () => int(256))) : Buffer.from(header + body);
      const r = await cli(['mappings', 'import', '-', '--state', state, '--canvas-shard', '2107', '--json'], bytes);
      expect([0, 1, 2], `file ${i}: ${r.stderr}`).toContain(r.code);
      if (r.code === 2) expect(r.stderr).toMatch(/^gradestream: [^\n]+\n$/);
      else expect(() => JSON.parse(r.stdout), `file ${i}`).not.toThrow();
      expect(r.stderr).not.toMatch(/TypeError|RangeError|at .*\.ts:/);
    }
  });
});
