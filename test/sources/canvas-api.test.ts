import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CanvasApi, ENROLLMENT_STATES, readAll, scoreWorkflowState, type CanvasEnrollment } from '../../src/sources/canvas/api.js';
import { CanvasClient } from '../../src/sources/canvas/client.js';
import { CanvasNotFoundError, CanvasRequestError } from '../../src/sources/canvas/errors.js';
import { CanvasStandin, type StandinGrades } from '../support/canvas-standin.js';

let standin: CanvasStandin;
beforeEach(async () => {
  standin = await CanvasStandin.start();
});
afterEach(async () => {
  await standin.close();
});

function apiFor(concurrency = 4) {
  const client = new CanvasClient({ baseUrl: standin.url, token: standin.token, concurrency, sleep: async () => undefined });
  return { client, api: new CanvasApi(client) };
}

/** The grades as read: override_score only where Canvas sends one (an override is set). */
const gradesOf = (g: StandinGrades) => ({
  current_score: g.current_score,
  final_score: g.final_score,
  unposted_current_score: g.unposted_current_score,
  unposted_final_score: g.unposted_final_score,
  ...(g.override_score === null ? {} : { override_score: g.override_score }),
});

/** One raw enrollment as Canvas writes it, with `grades` replaced. */
function enrollment(grades: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { id: '9', user_id: '10', course_id: '1', sis_user_id: 'S10', enrollment_state: 'active', updated_at: '2025-01-02T03:04:05Z', grades, ...extra };
}
const fullGrades = { current_score: 90, final_score: 80, unposted_current_score: 91, unposted_final_score: 81 };

describe('CanvasApi: student enrollments', () => {
  it('reads each student’s course grades, SIS id and state exactly as Canvas holds them', async () => {
    const course = standin.addCourse({ students: 40, assignments: 6 });
    const { api } = apiFor();
    const { items, rejected } = await readAll(api.studentEnrollments(String(course.id)));
    expect(rejected).toBe(0);
    expect(items).toHaveLength(40);
    for (const [i, e] of items.entries()) {
      const s = course.students[i]!;
      expect(e).toEqual({
        id: String(s.enrollmentId),
        user_id: String(s.userId),
        course_id: String(course.id),
        sis_user_id: s.sis,
        enrollment_state: 'active',
        updated_at: s.updatedAt,
        grades: gradesOf(s.grades),
      });
    }
    // the stand-in's data is not trivially uniform: some unposted grades make unposted_* differ
    expect(items.some((e) => e.grades.unposted_current_score !== e.grades.current_score)).toBe(true);
  });

  it('asks for the enrollment states it means to read; a deleted enrollment is a deleted course score', async () => {
    const course = standin.addCourse({ students: 5, assignments: 2 });
    const [a, b, c, d] = course.students;
    standin.setEnrollmentState(course.id, a!.userId, 'deleted');
    standin.setEnrollmentState(course.id, b!.userId, 'creation_pending');
    standin.setEnrollmentState(course.id, c!.userId, 'completed');
    standin.setEnrollmentState(course.id, d!.userId, 'inactive');
    const { api } = apiFor();
    const { items } = await readAll(api.studentEnrollments(String(course.id)));
    const byUser = new Map(items.map((e) => [e.user_id, e]));
    expect(byUser.has(String(b!.userId))).toBe(false);
    expect(byUser.get(String(a!.userId))!.enrollment_state).toBe('deleted');
    expect(scoreWorkflowState(byUser.get(String(a!.userId))!)).toBe('deleted');
    expect(scoreWorkflowState(byUser.get(String(c!.userId))!)).toBe('active');
    expect(scoreWorkflowState(byUser.get(String(d!.userId))!)).toBe('active');
    expect(items).toHaveLength(4);
    const query = standin.requests[0]!.query;
    expect(query.getAll('state[]')).toEqual([...ENROLLMENT_STATES]);
    expect(query.getAll('type[]')).toEqual(['StudentEnrollment']);
  });

  it('per grading period: that period’s grades and its override, where Final Grade Override is on', async () => {
    const course = standin.addCourse({ students: 30, assignments: 10, gradingPeriods: 2, finalGradeOverride: true });
    const plain = standin.addCourse({ students: 30, assignments: 10, gradingPeriods: 2, finalGradeOverride: false });
    const { api } = apiFor();
    const periods = (await readAll(api.gradingPeriods(String(course.id)))).items;
    expect(periods.map((p) => p.id)).toEqual(course.periods.map((p) => String(p.id)));

    const whole = (await readAll(api.studentEnrollments(String(course.id)))).items;
    expect(whole.map((e) => e.grades)).toEqual(course.students.map((s) => gradesOf(s.grades)));
    expect(whole.map((e) => 'override_score' in e.grades)).toEqual(course.students.map((_, i) => i % 10 === 0));
    for (const period of course.periods) {
      const items = (await readAll(api.studentEnrollments(String(course.id), String(period.id)))).items;
      expect(items.map((e) => e.grades)).toEqual(course.students.map((s) => gradesOf(s.periodGrades.get(period.id)!)));
      expect(items.map((e) => 'override_score' in e.grades)).toEqual(course.students.map((_, i) => i % 10 === 1));
      expect(standin.requests.at(-1)!.query.get('grading_period_id')).toBe(String(period.id));
    }
    // without Final Grade Override Canvas sends no override_score at all
    const none = (await readAll(api.studentEnrollments(String(plain.id), String(plain.periods[0]!.id)))).items;
    expect(none.some((e) => 'override_score' in e.grades)).toBe(false);
    // an override cleared in Canvas: the key is gone for that student (absent, not null)
    const cleared = course.students[10]!;
    standin.setGrades(course.id, cleared.userId, { override_score: null });
    const after = (await readAll(api.studentEnrollments(String(course.id)))).items.find((e) => e.user_id === String(cleared.userId))!;
    expect('override_score' in after.grades).toBe(false);
  });

  it('an unknown grading period is a 400 CanvasRequestError', async () => {
    const course = standin.addCourse({ students: 2, gradingPeriods: 1 });
    const { api } = apiFor();
    await expect(readAll(api.studentEnrollments(String(course.id), '999999'))).rejects.toMatchObject({
      constructor: CanvasRequestError,
      status: 400,
      message: expect.stringContaining('invalid grading_period_id'),
    });
  });

  it('sees drift: a grade changed in Canvas is read back changed, at the newer Date', async () => {
    const course = standin.addCourse({ students: 3, assignments: 2, finalGradeOverride: true });
    const student = course.students[1]!;
    const { api } = apiFor();
    const before = await readAll(api.studentEnrollments(String(course.id)));
    standin.now += 3_600_000;
    standin.setGrades(course.id, student.userId, { final_score: 12.5, override_score: 77 });
    const after = await readAll(api.studentEnrollments(String(course.id)));
    const pick = (r: { items: CanvasEnrollment[] }) => r.items.find((e) => e.user_id === String(student.userId))!.grades;
    expect(pick(before).final_score).not.toBe(12.5);
    expect(pick(after)).toMatchObject({ final_score: 12.5, override_score: 77 });
    expect(after.date! - before.date!).toBe(3_600_000);
  });

  it('rejects, and reports, a record whose grades are not what a token that views all grades gets', async () => {
    const { api } = apiFor();
    const page = [
      enrollment(fullGrades),
      // grades_hash without view_all_grades: "effective" scores (override included), no unposted_*
      enrollment({ current_score: 95, final_score: 95 }, { id: '11', user_id: '12' }),
      enrollment({ ...fullGrades, current_score: 'A' }, { id: '13', user_id: '14' }),
      enrollment(fullGrades, { id: '15', user_id: 21070000000000565 }),
      enrollment(fullGrades, { id: '16', user_id: '17', enrollment_state: 'graduated' }),
    ];
    standin.answerNext({ status: 200, body: JSON.stringify(page) });
    const pages = [];
    for await (const p of api.studentEnrollments('1')) pages.push(p);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.items.map((e) => e.id)).toEqual(['9']);
    expect(pages[0]!.rejected.map((r) => r.index)).toEqual([1, 2, 3, 4]);
    const problems = pages[0]!.rejected.map((r) => r.problem);
    expect(problems[0]).toMatch(/^grades\.unposted_current_score: .*; grades\.unposted_final_score: /);
    expect(problems[1]).toBe('grades.current_score: not a number');
    expect(problems[2]).toMatch(/^user_id: .*2\^53/);
    expect(problems[3]).toMatch(/^enrollment_state: /);
  });

  it('reads numeric strings and "" as the docs’ Grade model types scores, and an override beside grades', async () => {
    const { api } = apiFor();
    const page = [
      enrollment({ current_score: '88.5', final_score: '', unposted_current_score: null, unposted_final_score: 1e2 }),
      enrollment(fullGrades, { id: '11', override_score: 99.99 }),
      enrollment({ ...fullGrades, override_score: 70 }, { id: '12', override_score: 99.99 }),
    ];
    standin.answerNext({ status: 200, body: JSON.stringify(page) });
    const { items, rejected } = await readAll(api.studentEnrollments('1'));
    expect(rejected).toBe(0);
    expect(items[0]!.grades).toEqual({ current_score: 88.5, final_score: null, unposted_current_score: null, unposted_final_score: 100 });
    expect('override_score' in items[0]!.grades).toBe(false);
    expect(items[1]!.grades.override_score).toBe(99.99);
    expect(items[2]!.grades.override_score).toBe(70); // the one inside grades wins
    expect(items[0]!.updated_at).toBe(Date.UTC(2025, 0, 2, 3, 4, 5));
  });
});

describe('CanvasApi: assignments, submissions, grading periods, courses', () => {
  it('reads submissions of published assignments with posted_at, graded state and grader', async () => {
    const course = standin.addCourse({ students: 12, assignments: 4 });
    course.assignments[2]!.published = false;
    standin.setEnrollmentState(course.id, course.students[0]!.userId, 'deleted');
    standin.setSubmission(course.id, course.assignments[0]!.id, course.students[1]!.userId, { graderId: -12 });
    standin.setSubmission(course.id, course.assignments[1]!.id, course.students[4]!.userId, {
      score: null,
      grade: null,
      gradedAt: null,
      postedAt: null,
      graderId: null,
      workflowState: 'unsubmitted',
    });
    const { api } = apiFor();
    const assignments = (await readAll(api.assignments(String(course.id)))).items;
    expect(assignments.map((a) => [a.points_possible, a.published, a.grading_type])).toEqual([
      [10, true, 'points'],
      [10, true, 'points'],
      [10, false, 'points'],
      [10, true, 'points'],
    ]);

    const { items, rejected } = await readAll(api.submissions(String(course.id)));
    expect(rejected).toBe(0);
    expect(items).toHaveLength(11 * 3);
    const expected = course.submissions.filter((s) => s.assignmentId !== course.assignments[2]!.id && s.userId !== course.students[0]!.userId);
    expect(items).toEqual(
      expected.map((s) => ({
        id: String(s.id),
        assignment_id: String(s.assignmentId),
        user_id: String(s.userId),
        score: s.score,
        grade: s.grade,
        graded_at: s.gradedAt,
        posted_at: s.postedAt,
        workflow_state: s.workflowState,
        grader_id: s.graderId === null ? null : String(s.graderId),
      })),
    );
    expect(items.some((s) => s.posted_at === null && s.score !== null)).toBe(true); // graded, unposted
    expect(items.some((s) => s.workflow_state === 'unsubmitted' && s.score === null)).toBe(true);
    expect(items.find((s) => s.grader_id === '-12')).toBeDefined(); // graded by a process
    expect(standin.requests.at(-1)!.query.getAll('student_ids[]')).toEqual(['all']);
  });

  it('grading periods: the wrapped list, and an empty one for a course without', async () => {
    const course = standin.addCourse({ gradingPeriods: 2 });
    const bare = standin.addCourse();
    const { api } = apiFor();
    const { items } = await readAll(api.gradingPeriods(String(course.id)));
    expect(items).toEqual(course.periods.map((p) => ({ id: String(p.id), title: p.title, start_date: p.start, end_date: p.end })));
    const pages = [];
    for await (const page of api.gradingPeriods(String(bare.id))) pages.push(page);
    expect(pages.map((p) => p.items)).toEqual([[]]);
  });

  it('account courses: one term, deleted courses included; an unknown account is a CanvasNotFoundError', async () => {
    const a = standin.addCourse({ termId: 1, sis: 'A' });
    const b = standin.addCourse({ termId: 1, sis: null, workflowState: 'deleted' });
    standin.addCourse({ termId: 2, sis: 'C' });
    const d = standin.addCourse({ termId: 1, workflowState: 'unpublished' });
    standin.addCourse({ termId: 1, accountId: 2 });
    const { api } = apiFor();
    const { items } = await readAll(api.accountCourses('1', '1'));
    expect(items.map((c) => [c.id, c.sis_course_id, c.workflow_state])).toEqual([
      [String(a.id), 'A', 'available'],
      [String(b.id), null, 'deleted'],
      [String(d.id), `SIS-C${d.id}`, 'unpublished'],
    ]);
    expect((await readAll(api.accountCourses('1'))).items).toHaveLength(4);
    await expect(readAll(api.accountCourses('99'))).rejects.toBeInstanceOf(CanvasNotFoundError);
  });
});

describe('the Canvas stand-in', () => {
  it('writes ids as numbers unless asked for string ids, caps per_page at 100, and checks the token', async () => {
    const course = standin.addCourse({ students: 120 });
    const get = (accept: string, query = '') =>
      fetch(`${standin.url}/api/v1/courses/${course.id}/enrollments${query}`, { headers: { authorization: `Bearer ${standin.token}`, accept } });
    const numbers = (await (await get('application/json')).json()) as Array<Record<string, unknown>>;
    expect(numbers).toHaveLength(10); // Canvas's default per_page
    expect(typeof numbers[0]!['user_id']).toBe('number');
    const strings = await get('application/json+canvas-string-ids', '?per_page=500');
    const body = (await strings.json()) as Array<Record<string, unknown>>;
    expect(body).toHaveLength(100);
    expect(typeof body[0]!['user_id']).toBe('string');
    expect(strings.headers.get('link')).toContain('rel="next"');
    const refused = await fetch(`${standin.url}/api/v1/courses/${course.id}`, { headers: { authorization: 'Bearer nope' } });
    expect(refused.status).toBe(401);
  });
});

describe('CanvasApi: a large course', () => {
  it('reads a 1,000-student, 10-assignment course with 2 grading periods (prints requests and time)', async () => {
    const course = standin.addCourse({ sis: 'MATH-101', students: 1000, assignments: 10, gradingPeriods: 2, finalGradeOverride: true });
    const { api, client } = apiFor(4);
    const id = String(course.id);
    const started = performance.now();
    const info = await api.course(id);
    const periods = await readAll(api.gradingPeriods(id));
    const [assignments, whole, p1, p2, submissions] = await Promise.all([
      readAll(api.assignments(id)),
      readAll(api.studentEnrollments(id)),
      readAll(api.studentEnrollments(id, periods.items[0]!.id)),
      readAll(api.studentEnrollments(id, periods.items[1]!.id)),
      readAll(api.submissions(id)),
    ]);
    const ms = performance.now() - started;
    expect(info.body.sis_course_id).toBe('MATH-101');
    expect([assignments.items.length, whole.items.length, p1.items.length, p2.items.length, submissions.items.length]).toEqual([10, 1000, 1000, 1000, 10_000]);
    expect([assignments, whole, p1, p2, submissions].map((r) => r.rejected)).toEqual([0, 0, 0, 0, 0]);
    // 1 course + 1 grading periods + 1 assignments + 3 × 10 enrollment pages + 100 submission pages
    expect(client.stats).toEqual({ requests: 133, retries: 0, throttled: 0, slowdowns: 0, dateFallbacks: 0 });
    expect(client.peakInFlight).toBeLessThanOrEqual(4);
    console.log(
      `Canvas read of one course (1,000 students, 10 assignments, 2 grading periods, per_page 100, concurrency 4, stand-in on loopback): ` +
        `${client.stats.requests} requests, ${Math.round(ms)} ms wall-clock, ` +
        `${whole.items.length * 3} enrollment rows (whole course + 2 periods), ${submissions.items.length} submissions`,
    );
  });
});
