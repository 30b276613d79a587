import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import { cli } from '../support/cli.js';
import { A1, A2, S1, S2, filesIn, fold, grade, tempDir } from './world.js';

/** The sync commands (SPEC §7.1) in-process, on SQLite: output shapes, exit codes, messages. */

const dir = tempDir('sync-cli');
const state = `sqlite:${join(dir, 'state.db')}`;
const outbox = join(dir, 'outbox');
const schedulesFile = join(dir, 'schedules.yaml');
const env = { GRADESTREAM_STATE_URL: state, GRADESTREAM_SCHEDULES_FILE: schedulesFile, GRADESTREAM_SINK_URL: `file:${outbox}` };
const run = (...args: string[]) => cli(args, '', env);
const json = async (...args: string[]) => {
  const r = await run(...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as unknown;
};

beforeAll(async () => {
  writeFileSync(
    schedulesFile,
    `schedules:
  - id: nightly
    hourOfDay: 2
    timeZone: America/Denver
    postedBy: Ada Admin
  - id: east
    hourOfDay: 23
    postedBy: Grace
    rootAccountId: "21070000000000001"
`,
  );
  const store = await openStore(state);
  await fold(
    store,
    grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }),
    grade('2026-03-01T10:00:00Z', { assignment: A2, student: S2, score: 6 }),
  );
  await store.close();
});
afterAll(() => undefined);

describe('gradestream sync and friends', () => {
  it('sync prints the run as a history entry', async () => {
    const entry = await json('sync', 'nightly', '--as', 'Grace Registrar');
    expect(entry).toEqual({
      id: '1',
      kind: 'sync',
      schedule: 'nightly',
      trigger: 'manual',
      triggered_by: 'Grace Registrar',
      scheduled_for: null,
      started_at: expect.stringMatching(/Z$/),
      finished_at: expect.stringMatching(/Z$/),
      status: 'succeeded',
      rows: 1,
      rows_by: { assignment: { upsert: 1, delete: 0 }, course: { upsert: 0, delete: 0 } },
      held: { unposted: 0, student_unmapped: 1, course_unmapped: 0 },
      batch: join(outbox, filesIn(outbox)[0]!),
      batch_id: expect.stringMatching(/^\d{8}T\d{6}Z-nightly-r1$/),
      target: `file:${outbox}`,
      error: null,
    });
    const human = await run('sync', 'nightly', '--as', 'Grace');
    expect(human.stdout).toMatch(/^run 2 of nightly \(manual by Grace\): succeeded; 0 rows; held student_unmapped 1; batch .*\.csv\n$/);
  });

  it('--dry-run reports without delivering or recording', async () => {
    const files = filesIn(outbox);
    const entry = (await json('sync', 'east', '--as', 'x', '--dry-run')) as Record<string, unknown>;
    expect(entry).toMatchObject({ id: null, status: 'dry_run', rows: 0, batch: null, held: { student_unmapped: 1 } });
    expect(filesIn(outbox)).toEqual(files);
    expect(((await json('runs', 'list')) as { runs: unknown[] }).runs.length).toBe(2);
  });

  it('schedules list, next, pause and resume', async () => {
    expect(await json('schedules', 'list', '--now', '2026-03-08T08:30:00Z')).toEqual({ schedules: [
      {
        id: 'nightly',
        hour_of_day: 2,
        time_zone: 'America/Denver',
        next_run: '2026-03-08T09:00:00.000Z',
        status: 'enabled',
        posted_by: 'Ada Admin',
        root_account_id: null,
        kind: 'sync',
        target: `file:${outbox}`,
        format: 'csv',
        status_changed_by: null,
        status_changed_at: null,
      },
      expect.objectContaining({ id: 'east', time_zone: 'UTC', next_run: '2026-03-08T23:00:00.000Z', root_account_id: '21070000000000001' }),
    ] });
    expect(await json('schedules', 'next', 'nightly', '--after', '2026-03-06T12:00:00-07:00', '--count', '3')).toEqual({ schedule: 'nightly', runs: [
      '2026-03-07T09:00:00.000Z',
      '2026-03-08T09:00:00.000Z', // 03:00 MDT: 02:00 does not exist that day
      '2026-03-09T08:00:00.000Z',
    ] });
    expect(await json('schedules', 'pause', 'nightly', '--as', 'Ada')).toMatchObject({ status: 'suspended', status_changed_by: 'Ada' });
    const text = (await run('schedules', 'list', '--now', '2026-03-08T08:30:00Z')).stdout;
    expect(text.split('\n')[0]).toBe('ID       HOUR  TIME ZONE       NEXT RUN (UTC)            STATUS     POSTED BY  ROOT ACCOUNT');
    expect(text).toContain('nightly  2     America/Denver  2026-03-08T09:00:00.000Z  suspended  Ada Admin  (all)');
    expect(await json('schedules', 'resume', 'nightly', '--as', 'Ada')).toMatchObject({ status: 'enabled' });
  });

  it('schedules tick runs what is due once', async () => {
    const ran = ((await json('schedules', 'tick', '--now', '2026-03-09T23:30:00Z')) as { runs: { schedule: string; trigger: string }[] }).runs;
    expect(ran.map((e) => [e.schedule, e.trigger]).sort()).toEqual([
      ['east', 'scheduled'],
      ['nightly', 'scheduled'],
    ]);
    expect(await json('schedules', 'tick', '--now', '2026-03-09T23:30:00Z')).toEqual({ runs: [] });
  });

  it('held, resend, runs show', async () => {
    expect(await json('held')).toEqual({ held: [
      expect.objectContaining({ reason: 'student_unmapped', record_type: 'assignment', student_id: S2, assignment_id: A2 }),
    ] });
    expect(await json('held', '--reason', 'unposted')).toEqual({ held: [] });
    expect(await json('resend', '--assignment', A1, '--as', 'Registrar')).toEqual({
      selector: 'assignment',
      id: A1,
      requested_by: 'Registrar',
      requested_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      targets: [{ target: `file:${outbox}`, resend_id: '1', unacked: 1 }],
    });
    expect(await json('sync', 'nightly', '--as', 'x')).toMatchObject({ rows: 1 });
    expect(await json('runs', 'show', '1')).toMatchObject({ id: '1', status: 'succeeded' });
    expect(((await json('runs', 'list', '--schedule', 'east')) as { runs: unknown[] }).runs.length).toBe(1);
  });

  it('fails with one line and the right exit code', async () => {
    const cases: [string[], number, RegExp][] = [
      [['sync', 'weekly', '--as', 'x'], 2, /^gradestream: no schedule "weekly" in the schedules file \(known: nightly, east\)\n$/],
      [['sync', 'nightly'], 2, /required option '--as <name>' not specified/],
      [['sync', 'nightly', '--as', '  '], 2, /--as: say who is asking/],
      [['schedules', 'pause', 'weekly', '--as', 'x'], 2, /no schedule "weekly"/],
      [['schedules', 'next', 'nightly', '--after', 'yesterday'], 2, /--after: "yesterday" is not an ISO 8601 date-time/],
      [['schedules', 'next', 'nightly', '--count', '0'], 2, /--count: "0" is not a whole number from 1 to 1000/],
      [['resend', '--as', 'x'], 2, /give exactly one of --course, --assignment, --all/],
      [['resend', '--course', '12x', '--as', 'x'], 2, /"12x" is not a canonical \(global\) course id/],
      [['held', '--reason', 'late'], 2, /--reason: "late" is not one of course_unmapped, student_unmapped, unposted/],
      [['runs', 'show', '999'], 1, /^gradestream: no run "999" in the history\n$/],
      [['runs', 'list', '--state', 'mysql://x'], 2, /^gradestream: invalid configuration: --state \("mysql:\/\/x"\): expected sqlite:PATH or postgres:\/\/…\n$/],
    ];
    for (const [args, code, message] of cases) {
      const r = await run(...args);
      expect([args.join(' '), r.code], r.stderr).toEqual([args.join(' '), code]);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('a bad schedules file is a configuration error listing every problem (exit 2)', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, '- {id: a, hourOfDay: 24, timeZone: Mars/Olympus, postedBy: x}\n');
    const r = await run('schedules', 'list', '--schedules', bad);
    expect(r.code).toBe(2);
    // One problem per line under a first line that counts them.
    expect(r.stderr).toMatch(/^gradestream: invalid configuration \(2 problems\):\n  - .*hourOfDay: 24 is not a whole hour from 0 to 23\n  - .*timeZone: "Mars\/Olympus" is not an IANA time zone name[^\n]*\n$/);
    // A command that runs a schedule needs the file (read-only ones do not: test/cli/conventions.test.ts).
    const none = await cli(['sync', 'nightly', '--as', 'x'], '', { GRADESTREAM_STATE_URL: state });
    expect([none.code, none.stderr]).toEqual([2, 'gradestream: invalid configuration: no schedules file: set GRADESTREAM_SCHEDULES_FILE or pass --schedules FILE\n']);
  });

  it('a failed run exits 1 and prints its entry', async () => {
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, '');
    const store = await openStore(state);
    await fold(store, grade('2026-03-05T10:00:00Z', { assignment: A1, student: S1, score: 9 }));
    await store.close();
    const r = await run('sync', 'nightly', '--as', 'x', '--json', '--sink', `file:${join(blocker, 'out')}`);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'failed', rows: 0, error: expect.stringMatching(/ENOTDIR/) });
    expect(r.stderr).toMatch(/^gradestream: run \d+ of nightly failed: cannot write batch .*ENOTDIR.*\n$/);
  });
});
