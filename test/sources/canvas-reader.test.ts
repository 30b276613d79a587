import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { CanvasApi } from '../../src/sources/canvas/api.js';
import { CanvasClient } from '../../src/sources/canvas/client.js';
import { canvasReader } from '../../src/sources/canvas/reader.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import { CanvasStandin } from '../support/canvas-standin.js';

/**
 * The reader reconciliation takes (src/reconcile/reconcile.ts) over the REST client, end to end: the
 * stand-in read into an SQLite state store in a temporary directory (no backing service).
 */
let standin: CanvasStandin;
let store: StateStore;
let dir: string;

beforeEach(async () => {
  standin = await CanvasStandin.start();
  dir = mkdtempSync(join(tmpdir(), 'gradestream-canvas-'));
  store = await openStore(`sqlite:${join(dir, 'state.db')}`);
});
afterEach(async () => {
  await store.close();
  await standin.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('canvasReader', () => {
  it('dates each item with its page, gives posted_at back as ISO text, and reports rejected items', async () => {
    const course = standin.addCourse({ students: 3, assignments: 2 });
    const rejected: string[] = [];
    const reader = canvasReader(new CanvasApi(new CanvasClient({ baseUrl: standin.url, token: standin.token })), {
      onRejected: (courseId, what, item) => rejected.push(`${courseId} ${what} #${item.index}: ${item.problem}`),
    });
    const submissions = [];
    for await (const page of reader.submissions(String(course.id))) submissions.push(...page);
    expect(submissions).toHaveLength(6);
    expect(submissions.every((s) => s.date === standin.now)).toBe(true);
    const unposted = course.submissions.find((s) => s.postedAt === null && s.score !== null)!;
    expect(submissions.find((s) => s.item.id === String(unposted.id))!.item.posted_at).toBeNull();
    const posted = course.submissions.find((s) => s.postedAt !== null)!;
    expect(submissions.find((s) => s.item.id === String(posted.id))!.item.posted_at).toBe(new Date(posted.postedAt!).toISOString());

    standin.answerNext({ status: 200, body: JSON.stringify([{ id: '1', user_id: '2', course_id: '3', enrollment_state: 'active', grades: {} }]) });
    for await (const page of reader.studentEnrollments('3', '44')) expect(page).toEqual([]);
    expect(rejected).toEqual(['3 enrollments of grading period 44 #0: grades.current_score: absent (a number or null expected); grades.final_score: absent (a number or null expected); grades.unposted_current_score: absent (a number or null expected); and 1 more']);
  });

  it('reconciles a stand-in course into the store: new, then confirmed, then the drift Canvas shows', async () => {
    const course = standin.addCourse({ sis: 'MATH-101', students: 20, assignments: 3, gradingPeriods: 2, finalGradeOverride: true });
    const reader = canvasReader(new CanvasApi(new CanvasClient({ baseUrl: standin.url, token: standin.token })));
    const run = () => reconcile({ reader, store, shard: '2107', courses: [String(course.id)] });

    const first = await run();
    expect(first).toMatchObject({ reconciled: 1, not_found: 0, failed: 0 });
    const scored = course.submissions.filter((s) => s.score !== null).length;
    expect(first.totals.assignment).toEqual({ confirmed: 0, changed: 0, new: scored });
    expect(first.totals.course).toEqual({ confirmed: 0, changed: 0, new: 20 });
    // course overrides for students 0 and 10, one per grading period for students 1 and 11
    expect(first.totals.override.new).toBe(2 + 2 * 2);
    expect(first.courses[0]!.course_id).toBe(`2107${String(course.id).padStart(13, '0')}`);

    standin.now += 60_000;
    const second = await run();
    expect(second.totals.course).toEqual({ confirmed: 20, changed: 0, new: 0 });
    expect(second.totals.assignment.changed + second.totals.assignment.new).toBe(0);

    standin.now += 60_000;
    standin.setGrades(course.id, course.students[3]!.userId, { final_score: 12.5 });
    const third = await run();
    expect(third.totals.course).toEqual({ confirmed: 19, changed: 1, new: 0 });

    standin.notFound(course.id);
    expect(await run()).toMatchObject({ reconciled: 0, not_found: 1 });
  });
});
