import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import { cli } from '../support/cli.js';
import { CanvasStandin, type StandinCourse } from '../support/canvas-standin.js';
import { gradeChange, line } from '../support/grades.js';
import { tempDir } from '../sync/world.js';

/**
 * `gradestream reconcile` against the Canvas stand-in (issue 14): a new store bootstrapped from Canvas
 * then synced sends exactly the posted, mapped grades; live events older than the read are stale and
 * newer ones win; an unchanged second reconcile finds no drift and the next sync sends nothing; drift is
 * counted; throttled and failing pages are retried; 401 stops at once; 404 for one course lets the
 * others go on; the shard rule; every reconciliation is in the history.
 */
let standin: CanvasStandin;
const dir = tempDir('reconcile');
const schedules = join(dir, 'schedules.yaml');
writeFileSync(schedules, '- {id: nightly, hourOfDay: 2, postedBy: Registrar}\n');
let n = 0;
const fresh = () => `sqlite:${join(dir, `state-${++n}.db`)}`;

beforeAll(async () => {
  standin = await CanvasStandin.start();
});
afterAll(async () => {
  await standin?.close();
});

const env = (state: string, extra: Record<string, string> = {}) => ({
  GRADESTREAM_STATE_URL: state,
  GRADESTREAM_SCHEDULES_FILE: schedules,
  GRADESTREAM_SINK_URL: `file:${join(dir, `outbox-${state.split('-').at(-1)}`)}`,
  GRADESTREAM_CANVAS_URL: standin.url,
  GRADESTREAM_CANVAS_TOKEN: standin.token,
  ...extra,
});
const reconcileJson = async (state: string, args: string[], extra: Record<string, string> = {}) => {
  const r = await cli(['reconcile', ...args, '--canvas-shard', '2107', '--as', 'Registrar', '--json'], '', env(state, extra));
  return { code: r.code, stderr: r.stderr, doc: r.stdout === '' ? undefined : (JSON.parse(r.stdout) as Record<string, any>) };
};
const sync = async (state: string) => {
  const r = await cli(['sync', 'nightly', '--as', 'Registrar', '--json'], '', env(state));
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { rows: number; rows_by: Record<string, { upsert: number; delete: number }>; batch: string; held: Record<string, number> };
};
const global = (local: number) => `2107${String(local).padStart(13, '0')}`;

/**
 * What a sync must send of a stand-in course: posted graded submissions; a course row per student with a
 * value (its course-level override in the same row), and one per grading-period override.
 */
function expected(course: StandinCourse) {
  const assignments = course.submissions.filter((s) => (s.score !== null || s.grade !== null) && s.postedAt !== null).length;
  const students = course.students.filter((s) => s.state !== 'deleted');
  const courses = students.filter((s) => s.grades.current_score !== null || s.grades.final_score !== null || s.grades.override_score !== null).length;
  const periods = students.reduce((n, s) => n + [...s.periodGrades.values()].filter((g) => g.override_score !== null).length, 0);
  return { assignments, courses: courses + periods };
}

describe('gradestream reconcile', () => {
  it('bootstraps an empty store; the sync then sends exactly the posted, mapped grades; a second reconcile finds nothing', async () => {
    const course = standin.addCourse({ students: 30, assignments: 4, gradingPeriods: 2, finalGradeOverride: true });
    const state = fresh();
    const first = await reconcileJson(state, ['--course', String(course.id)]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/reconcile: 1\/1 course done/);
    const d = first.doc!;
    expect(d).toMatchObject({ status: 'succeeded', dry_run: false, shard: '2107', scope: `courses:${course.id}`, courses: { reconciled: 1, not_found: 0, failed: 0 } });
    const graded = course.submissions.filter((s) => s.score !== null || s.grade !== null).length;
    expect(d['drift'].assignment).toEqual({ confirmed: 0, changed: 0, new: graded });
    expect(d['drift'].course).toEqual({ confirmed: 0, changed: 0, new: 30 });
    expect(d['drift'].override.new).toBeGreaterThan(0);
    expect(d['canvas'].requests).toBeGreaterThan(4);

    const sent = await sync(state);
    const want = expected(course);
    expect(want.courses).toBeGreaterThan(30); // period overrides among them
    expect(sent.rows_by).toEqual({ assignment: { upsert: want.assignments, delete: 0 }, course: { upsert: want.courses, delete: 0 } });
    expect(sent.held.unposted).toBeGreaterThan(0); // the unposted submissions, held
    const csv = readFileSync(sent.batch, 'utf8');
    expect(csv).toContain(`,SIS-C${course.id},`);
    expect(csv).toContain(`,SIS-U${course.students[0]!.userId},`);

    // Unchanged: all confirmed, and the next sync has nothing to send.
    standin.now += 60_000;
    const again = await reconcileJson(state, ['--course', String(course.id)]);
    expect(again.doc!['drift'].assignment).toEqual({ confirmed: graded, changed: 0, new: 0 });
    expect(again.doc!['drift'].course).toMatchObject({ changed: 0, new: 0 });
    expect((await sync(state)).rows).toBe(0);

    // Both are in the history, with who started them.
    const { runs } = JSON.parse((await cli(['runs', 'list', '--json'], '', env(state))).stdout) as { runs: { kind: string; triggered_by: string; reconcile?: { drift: unknown } }[] };
    expect(runs.filter((r) => r.kind === 'reconcile')).toHaveLength(2);
    expect(runs.find((r) => r.kind === 'reconcile')).toMatchObject({ triggered_by: 'Registrar', reconcile: { drift: expect.any(Object) } });
  });

  it('counts drift when Canvas changed a grade no event announced, and the sync sends it', async () => {
    const course = standin.addCourse({ students: 5, assignments: 2 });
    const state = fresh();
    await reconcileJson(state, ['--course', String(course.id)]);
    await sync(state);
    const s = course.submissions.find((x) => x.postedAt !== null && x.score !== null)!;
    standin.setSubmission(course.id, s.assignmentId, s.userId, { score: 9.5, grade: '9.5' });
    standin.now += 60_000;
    const r = await reconcileJson(state, ['--course', String(course.id)]);
    expect(r.doc!['drift'].assignment.changed).toBe(1);
    expect((await sync(state)).rows_by['assignment']!.upsert).toBe(1);
  });

  it('a live event newer than the read wins; one older is stale', async () => {
    const course = standin.addCourse({ students: 2, assignments: 1 });
    const state = fresh();
    await reconcileJson(state, ['--course', String(course.id)]);
    const s = course.submissions.find((x) => x.score !== null)!;
    const event = (at: number, score: number) =>
      line(gradeChange(new Date(at).toISOString(), { assignment_id: global(s.assignmentId), student_id: global(s.userId), user_id: global(s.userId), score, grade: String(score) }, { context_id: global(course.id) }));
    const older = await cli(['replay', '-', '--json', '--state', state], `${event(standin.now - 1000, 1)}\n`);
    expect(JSON.parse(older.stdout)).toMatchObject({ stale: 1 });
    const newer = await cli(['replay', '-', '--json', '--state', state], `${event(standin.now + 1000, 2)}\n`);
    expect(JSON.parse(newer.stdout)).toMatchObject({ applied: 1 });
    const store = await openStore(state);
    try {
      expect((await store.inspect(global(s.userId))).assignment_scores).toMatchObject([{ score: 2 }]);
    } finally {
      await store.close();
    }
  });

  it('retries throttled and failing pages; 404 for one course is reported and the others go on (exit 1)', async () => {
    const a = standin.addCourse({ students: 3, assignments: 1 });
    const b = standin.addCourse({ students: 3, assignments: 1 });
    standin.notFound(b.id);
    standin.throttleNext(2);
    standin.failNext(2, 503);
    const state = fresh();
    const r = await reconcileJson(state, ['--course', String(a.id), String(b.id)]);
    expect(r.code).toBe(1);
    expect(r.doc).toMatchObject({ status: 'failed', courses: { reconciled: 1, not_found: 1, failed: 0 } });
    expect(r.doc!['per_course']).toMatchObject([{ course: String(a.id), status: 'reconciled' }, { course: String(b.id), status: 'not_found' }]);
    expect(r.doc!['canvas']).toMatchObject({ throttled: 2 });
    expect(r.doc!['canvas'].retries).toBeGreaterThanOrEqual(4);
  });

  it('a refused token stops at once, naming GRADESTREAM_CANVAS_TOKEN (no retry), and the run is recorded as failed', async () => {
    const course = standin.addCourse({ students: 1, assignments: 1 });
    const state = fresh();
    const before = standin.count();
    const r = await cli(['reconcile', '--course', String(course.id), '--canvas-shard', '2107'], '', env(state, { GRADESTREAM_CANVAS_TOKEN: 'wrong-token' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/GRADESTREAM_CANVAS_TOKEN/);
    expect(r.stderr).not.toContain('wrong-token');
    expect(standin.count() - before).toBe(1);
    const { runs } = JSON.parse((await cli(['runs', 'list', '--json'], '', env(state))).stdout) as { runs: { kind: string; status: string }[] };
    expect(runs).toMatchObject([{ kind: 'reconcile', status: 'failed' }]);
  });

  it('stops with exit 2 before any request when neither the flag nor the store gives the shard; --dry-run writes nothing', async () => {
    const course = standin.addCourse({ students: 2, assignments: 1 });
    const state = fresh();
    const before = standin.count();
    const r = await cli(['reconcile', '--course', String(course.id)], '', env(state));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--canvas-shard/);
    expect(standin.count()).toBe(before);
    expect((await cli(['reconcile', '--course', String(course.id), '--canvas-shard', '2107'], '', env(state, { GRADESTREAM_CANVAS_TOKEN: '' }))).code).toBe(2);
    expect((await cli(['reconcile', '--canvas-shard', '2107'], '', env(state))).code).toBe(2);

    const dry = await reconcileJson(state, ['--course', String(course.id), '--dry-run']);
    expect(dry.doc).toMatchObject({ id: null, status: 'dry_run', dry_run: true });
    expect(dry.doc!['drift'].course.new).toBe(2);
    const store = await openStore(state);
    try {
      expect((await store.counts()).course_score).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('reads an account\'s courses of one term', async () => {
    const inTerm = standin.addCourse({ students: 2, assignments: 1, accountId: 7, termId: 3 });
    standin.addCourse({ students: 2, assignments: 1, accountId: 7, termId: 4 });
    const r = await reconcileJson(fresh(), ['--account', '7', '--term', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc!['per_course'].map((c: { course: string }) => c.course)).toEqual([String(inTerm.id)]);
  });

  it('figure: one 1,000-student, 10-assignment course with 2 grading periods (printed, not asserted)', async () => {
    const course = standin.addCourse({ students: 1000, assignments: 10, gradingPeriods: 2, finalGradeOverride: true });
    const started = Date.now();
    const r = await reconcileJson(fresh(), ['--course', String(course.id)]);
    expect(r.code, r.stderr).toBe(0);
    const seconds = (Date.now() - started) / 1000;
    console.log(`reconcile of a 1,000-student course: ${r.doc!['canvas'].requests} Canvas requests, ${seconds.toFixed(2)} s (folded into SQLite), drift ${JSON.stringify(r.doc!['drift'])}`);
    expect(r.doc!['drift'].course.new).toBe(1000);
  });
});
