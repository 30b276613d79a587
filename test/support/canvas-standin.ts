import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Canvas stand-in: a real HTTP server on 127.0.0.1 that answers the REST endpoints gradestream reads
 * (SPEC §8) in Canvas's documented shapes, with the knobs tests need. Written from the docs
 * (https://developerdocs.instructure.com/services/canvas/resources/…) and canvas-lms's source:
 *
 * - ids are local to the instance (small integers), written as strings only when the request's Accept
 *   asks for application/json+canvas-string-ids (every `id` / `*_id` integer, as lib/api.rb does);
 * - lists are paginated with `Link` (current, next, prev, first, last), `per_page` default 10, capped at
 *   100 (Api::MAX_PER_PAGE), `page` from 1;
 * - every answer has a `Date` from a controllable clock;
 * - `Authorization: Bearer TOKEN` is checked: anything else is a 401 like Canvas's;
 * - student enrollments carry `grades` as grades_hash writes them for a token that may view all grades
 *   (computed scores, unposted ones, override_score only when Final Grade Override is on and set),
 *   per grading period with `grading_period_id`; state[] defaults to active + invited;
 * - submissions (students/submissions?student_ids[]=all) only for published assignments and
 *   enrollments that are not deleted, in id order;
 * - account courses leave deleted courses out unless state[] asks for them (or "all").
 *
 * Data is built programmatically and deterministically: addCourse({ students: 1000, assignments: 10,
 * gradingPeriods: 2, finalGradeOverride: true }) is one call.
 */

export interface StandinGrades {
  current_score: number | null;
  final_score: number | null;
  unposted_current_score: number | null;
  unposted_final_score: number | null;
  override_score: number | null;
}

export type EnrollmentState = 'active' | 'invited' | 'creation_pending' | 'deleted' | 'rejected' | 'completed' | 'inactive';
export type CourseState = 'unpublished' | 'available' | 'completed' | 'deleted';

export interface StandinStudent {
  userId: number;
  enrollmentId: number;
  sis: string | null;
  state: EnrollmentState;
  updatedAt: number;
  grades: StandinGrades;
  /** By grading period id. */
  periodGrades: Map<number, StandinGrades>;
}

export interface StandinAssignment {
  id: number;
  name: string;
  pointsPossible: number | null;
  published: boolean;
  /** The grading period it falls in, if any. */
  periodId: number | null;
}

export interface StandinSubmission {
  id: number;
  assignmentId: number;
  userId: number;
  score: number | null;
  grade: string | null;
  gradedAt: number | null;
  postedAt: number | null;
  workflowState: 'submitted' | 'unsubmitted' | 'graded' | 'pending_review';
  graderId: number | null;
}

export interface StandinPeriod {
  id: number;
  title: string;
  start: number;
  end: number;
}

export interface StandinCourse {
  id: number;
  name: string;
  sis: string | null;
  accountId: number;
  termId: number | null;
  rootAccountId: number;
  workflowState: CourseState;
  finalGradeOverride: boolean;
  students: StandinStudent[];
  assignments: StandinAssignment[];
  periods: StandinPeriod[];
  submissions: StandinSubmission[];
}

export interface CourseSpec {
  /** Local id (default: the next free one). */
  id?: number;
  sis?: string | null;
  name?: string;
  /** Default 1. */
  accountId?: number;
  /** Default 1; null for none. */
  termId?: number | null;
  workflowState?: CourseState;
  students?: number;
  assignments?: number;
  gradingPeriods?: number;
  finalGradeOverride?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
}

export interface RawReply {
  status: number;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface StandinOptions {
  token?: string;
  /** The clock's first reading (epoch ms); default 2025-03-03T12:00:00Z. */
  now?: number;
}

const STRING_IDS = 'application/json+canvas-string-ids';
const MAX_PER_PAGE = 100;
const TEACHER_ID = 5;
const ROOT_ACCOUNT_ID = 1;

export class CanvasStandin {
  readonly url: string;
  readonly token: string;
  /** The clock behind `Date` headers and generated timestamps (epoch ms). */
  now: number;
  /** Sent as X-Rate-Limit-Remaining on every answer when not null. */
  rateLimitRemaining: number | null = null;
  /** Each answer waits this long first (so requests overlap and concurrency shows). */
  latencyMs = 0;
  /** undefined: the clock's Date; null: no Date header; a string: sent as is. */
  dateHeader: string | null | undefined = undefined;
  /** Rewrites the `next` link of list answers (e.g. to another origin). */
  rewriteNext: ((next: string) => string) | null = null;
  readonly requests: RecordedRequest[] = [];
  /** Requests answered (or refused) per path. */
  readonly requestsByPath = new Map<string, number>();
  readonly courses = new Map<number, StandinCourse>();

  private readonly server: Server;
  private inFlight = 0;
  private highest = 0;
  private throttle = { count: 0, status: 403 as 403 | 429, retryAfter: undefined as string | undefined };
  private failures = { count: 0, status: 500 };
  private readonly raw: RawReply[] = [];
  private readonly missing = new Set<number>();
  private nextIds = { course: 101, user: 1001, enrollment: 5001, assignment: 201, submission: 20001, period: 301 };

  private constructor(server: Server, url: string, options: StandinOptions) {
    this.server = server;
    this.url = url;
    this.token = options.token ?? 'standin-token';
    this.now = options.now ?? Date.UTC(2025, 2, 3, 12, 0, 0);
  }

  static async start(options: StandinOptions = {}): Promise<CanvasStandin> {
    let standin: CanvasStandin | undefined;
    const server = createServer((req, res) => {
      standin!.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: `stand-in bug: ${String(err)}` }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    standin = new CanvasStandin(server, `http://127.0.0.1:${port}`, options);
    return standin;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The most requests that were ever being answered at once. */
  get peakInFlight(): number {
    return this.highest;
  }

  /** Requests to paths starting with `prefix`. */
  count(prefix = '/'): number {
    let total = 0;
    for (const [path, n] of this.requestsByPath) if (path.startsWith(prefix)) total += n;
    return total;
  }

  // ---- knobs ----

  /** The next `count` requests are throttled: 403 "403 Forbidden (Rate Limit Exceeded)" (or 429), quota 0. */
  throttleNext(count: number, options: { status?: 403 | 429; retryAfter?: string } = {}): void {
    this.throttle = { count, status: options.status ?? 403, retryAfter: options.retryAfter };
  }

  /** The next `count` requests fail with `status` (500 or 503). */
  failNext(count: number, status = 500): void {
    this.failures = { count, status };
  }

  /** The next requests (after the token check) get these answers verbatim, one each. */
  answerNext(...replies: RawReply[]): void {
    this.raw.push(...replies);
  }

  /** Everything under /api/v1/courses/:id answers 404 (as if the course did not exist). */
  notFound(courseId: number): void {
    this.missing.add(courseId);
  }

  /** Changes a student's course grades (or one grading period's): drift to reconcile. */
  setGrades(courseId: number, userId: number, changes: Partial<StandinGrades>, gradingPeriodId?: number): void {
    const student = this.student(courseId, userId);
    const target = gradingPeriodId === undefined ? student.grades : student.periodGrades.get(gradingPeriodId);
    if (target === undefined) throw new Error(`course ${courseId} has no grading period ${gradingPeriodId}`);
    Object.assign(target, changes);
    student.updatedAt = this.now;
  }

  setEnrollmentState(courseId: number, userId: number, state: EnrollmentState): void {
    const student = this.student(courseId, userId);
    student.state = state;
    student.updatedAt = this.now;
  }

  setSubmission(courseId: number, assignmentId: number, userId: number, changes: Partial<Omit<StandinSubmission, 'id' | 'assignmentId' | 'userId'>>): void {
    const course = this.course(courseId);
    const submission = course.submissions.find((s) => s.assignmentId === assignmentId && s.userId === userId);
    if (submission === undefined) throw new Error(`no submission of user ${userId} to assignment ${assignmentId}`);
    Object.assign(submission, changes);
  }

  setCourse(courseId: number, changes: Partial<Pick<StandinCourse, 'workflowState' | 'sis' | 'name' | 'termId'>>): void {
    Object.assign(this.course(courseId), changes);
  }

  course(courseId: number): StandinCourse {
    const course = this.courses.get(courseId);
    if (course === undefined) throw new Error(`no course ${courseId}`);
    return course;
  }

  student(courseId: number, userId: number): StandinStudent {
    const student = this.course(courseId).students.find((s) => s.userId === userId);
    if (student === undefined) throw new Error(`no student ${userId} in course ${courseId}`);
    return student;
  }

  // ---- data ----

  /**
   * A course with `students` students, `assignments` assignments (10 points each, all published, spread
   * over `gradingPeriods` periods in turn), every submission, and grades computed from them:
   * - submission (student i, assignment j): score (i·7 + j·3) mod 11 of 10; unsubmitted when
   *   (i + j) mod 17 = 0; unposted (posted_at null) for the last assignment when i mod 5 = 0;
   * - current = posted graded points / their points possible, final = posted graded points / all
   *   points possible, unposted_* the same counting unposted grades (× 100, 2 decimals);
   * - with Final Grade Override: a course override for i mod 10 = 0 (final + 3, at most 100) and a
   *   grading-period override for i mod 10 = 1 (the period's final + 2).
   */
  addCourse(spec: CourseSpec = {}): StandinCourse {
    const id = spec.id ?? this.nextIds.course++;
    if (this.courses.has(id)) throw new Error(`course ${id} exists`);
    this.nextIds.course = Math.max(this.nextIds.course, id + 1);
    const t0 = this.now - 30 * 86_400_000;
    const periods: StandinPeriod[] = [];
    for (let p = 0; p < (spec.gradingPeriods ?? 0); p++) {
      periods.push({ id: this.nextIds.period++, title: `Period ${p + 1}`, start: t0 + p * 45 * 86_400_000, end: t0 + (p + 1) * 45 * 86_400_000 - 1000 });
    }
    const assignments: StandinAssignment[] = [];
    for (let j = 0; j < (spec.assignments ?? 0); j++) {
      assignments.push({
        id: this.nextIds.assignment++,
        name: `Assignment ${j + 1}`,
        pointsPossible: 10,
        published: true,
        periodId: periods.length === 0 ? null : periods[j % periods.length]!.id,
      });
    }
    const course: StandinCourse = {
      id,
      name: spec.name ?? `Course ${id}`,
      sis: spec.sis === undefined ? `SIS-C${id}` : spec.sis,
      accountId: spec.accountId ?? 1,
      termId: spec.termId === undefined ? 1 : spec.termId,
      rootAccountId: ROOT_ACCOUNT_ID,
      workflowState: spec.workflowState ?? 'available',
      finalGradeOverride: spec.finalGradeOverride ?? false,
      students: [],
      assignments,
      periods,
      submissions: [],
    };
    for (let i = 0; i < (spec.students ?? 0); i++) {
      const userId = this.nextIds.user++;
      const mine: StandinSubmission[] = assignments.map((a, j) => {
        const unsubmitted = (i + j) % 17 === 0;
        const score = unsubmitted ? null : (i * 7 + j * 3) % 11;
        const gradedAt = unsubmitted ? null : t0 + (j + 1) * 86_400_000;
        const unposted = j === assignments.length - 1 && i % 5 === 0;
        return {
          id: this.nextIds.submission++,
          assignmentId: a.id,
          userId,
          score,
          grade: score === null ? null : String(score),
          gradedAt,
          postedAt: unsubmitted || unposted ? null : gradedAt,
          workflowState: unsubmitted ? 'unsubmitted' : 'graded',
          graderId: unsubmitted ? null : TEACHER_ID,
        };
      });
      course.submissions.push(...mine);
      const grades = gradesOf(assignments, mine);
      const periodGrades = new Map<number, StandinGrades>();
      for (const period of periods) {
        const inPeriod = assignments.filter((a) => a.periodId === period.id);
        const pg = gradesOf(inPeriod, mine);
        if (course.finalGradeOverride && i % 10 === 1 && pg.final_score !== null) pg.override_score = Math.min(100, round2(pg.final_score + 2));
        periodGrades.set(period.id, pg);
      }
      if (course.finalGradeOverride && i % 10 === 0 && grades.final_score !== null) grades.override_score = Math.min(100, round2(grades.final_score + 3));
      course.students.push({ userId, enrollmentId: this.nextIds.enrollment++, sis: `SIS-U${userId}`, state: 'active', updatedAt: t0, grades, periodGrades });
    }
    course.submissions.sort((a, b) => a.id - b.id);
    this.courses.set(id, course);
    return course;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.highest = Math.max(this.highest, this.inFlight);
    try {
      const url = new URL(req.url ?? '/', this.url);
      this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers });
      this.requestsByPath.set(url.pathname, (this.requestsByPath.get(url.pathname) ?? 0) + 1);
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      const reply = this.answer(req, url);
      const headers: Record<string, string> = { ...reply.headers };
      const date = this.dateHeader === undefined ? new Date(this.now).toUTCString() : this.dateHeader;
      if (date !== null) headers['date'] = date;
      else res.sendDate = false;
      if (this.rateLimitRemaining !== null && headers['x-rate-limit-remaining'] === undefined) {
        headers['x-rate-limit-remaining'] = String(this.rateLimitRemaining);
      }
      headers['x-request-cost'] ??= '0.01';
      res.writeHead(reply.status, headers);
      res.end(reply.body ?? '');
    } finally {
      this.inFlight -= 1;
    }
  }

  private answer(req: IncomingMessage, url: URL): RawReply {
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return json(401, { errors: [{ message: 'Invalid access token.' }] }, false, { 'www-authenticate': 'Bearer realm="canvas-lms"' });
    }
    if (this.throttle.count > 0) {
      this.throttle.count -= 1;
      const headers: Record<string, string> = { 'content-type': 'text/plain', 'x-rate-limit-remaining': '0' };
      if (this.throttle.retryAfter !== undefined) headers['retry-after'] = this.throttle.retryAfter;
      const status = this.throttle.status;
      return { status, body: `${status} ${status === 403 ? 'Forbidden' : 'Too Many Requests'} (Rate Limit Exceeded)\n`, headers };
    }
    if (this.failures.count > 0) {
      this.failures.count -= 1;
      return json(this.failures.status, { errors: [{ message: 'An error occurred.' }] }, false);
    }
    const raw = this.raw.shift();
    if (raw !== undefined) return raw;
    if (req.method !== 'GET') return json(405, { errors: [{ message: 'method not allowed' }] }, false);

    const stringIds = (req.headers.accept ?? '').includes(STRING_IDS);
    const parts = url.pathname.split('/').filter((p) => p !== '');
    if (parts[0] !== 'api' || parts[1] !== 'v1') return notFound();
    const [, , kind, idText, ...rest] = parts;
    if (idText === undefined || !/^\d{1,15}$/.test(idText)) return notFound();
    const id = Number(idText);

    if (kind === 'accounts' && rest.length === 1 && rest[0] === 'courses') {
      const all = [...this.courses.values()].filter((c) => c.accountId === id);
      if (all.length === 0) return notFound();
      const states = url.searchParams.getAll('state[]');
      const wanted = states.length === 0 || states.includes('all') ? null : new Set(states.flatMap(apiCourseStates));
      const term = url.searchParams.get('enrollment_term_id');
      const list = all
        .filter((c) => (wanted === null ? states.includes('all') || c.workflowState !== 'deleted' : wanted.has(c.workflowState)))
        .filter((c) => term === null || String(c.termId) === term)
        .sort((a, b) => a.id - b.id);
      return this.page(url, list, courseJson, stringIds);
    }
    if (kind !== 'courses') return notFound();
    const course = this.courses.get(id);
    if (course === undefined || this.missing.has(id)) return notFound();
    const sub = rest.join('/');
    switch (sub) {
      case '':
        return json(200, courseJson(course), stringIds);
      case 'enrollments':
        return this.enrollments(url, course, stringIds);
      case 'assignments':
        return this.page(url, course.assignments, (a) => assignmentJson(course, a), stringIds);
      case 'students/submissions':
        return this.submissions(url, course, stringIds);
      case 'grading_periods':
        return this.page(url, course.periods, periodJson, stringIds, 'grading_periods');
      default:
        return notFound();
    }
  }

  private enrollments(url: URL, course: StandinCourse, stringIds: boolean): RawReply {
    const types = url.searchParams.getAll('type[]');
    if (types.length > 0 && !types.includes('StudentEnrollment')) return this.page(url, [], (x) => x, stringIds);
    const states = url.searchParams.getAll('state[]');
    const wanted = new Set(states.length === 0 ? ['active', 'invited'] : states);
    const periodText = url.searchParams.get('grading_period_id');
    let periodId: number | null = null;
    if (periodText !== null && periodText !== '') {
      periodId = Number(periodText);
      if (!course.periods.some((p) => p.id === periodId)) return json(400, { error: 'invalid grading_period_id' }, false);
    }
    const list = course.students.filter((s) => wanted.has(s.state));
    return this.page(url, list, (s) => enrollmentJson(this.url, course, s, periodId === null ? s.grades : s.periodGrades.get(periodId)!), stringIds);
  }

  private submissions(url: URL, course: StandinCourse, stringIds: boolean): RawReply {
    if (!url.searchParams.getAll('student_ids[]').includes('all')) return this.page(url, [], (x) => x, stringIds);
    const published = new Set(course.assignments.filter((a) => a.published).map((a) => a.id));
    const enrolled = new Set(course.students.filter((s) => s.state !== 'deleted').map((s) => s.userId));
    const list = course.submissions.filter((s) => published.has(s.assignmentId) && enrolled.has(s.userId));
    return this.page(url, list, (s) => submissionJson(this.url, course, s), stringIds);
  }

  /**
   * One page of `items` (each written by `toJson`) with Canvas's Link header; `key` wraps the list in
   * an object (grading periods).
   */
  private page<T>(url: URL, items: readonly T[], toJson: (item: T) => unknown, stringIds: boolean, key?: string): RawReply {
    const perPageText = url.searchParams.get('per_page');
    const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number.parseInt(perPageText ?? '10', 10) || 10));
    const pageText = Number.parseInt(url.searchParams.get('page') ?? '1', 10);
    const page = Number.isFinite(pageText) && pageText >= 1 ? pageText : 1;
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage).map(toJson);
    const link = (n: number) => {
      const target = new URL(url.pathname, this.url);
      for (const [k, v] of url.searchParams) if (k !== 'page' && k !== 'per_page') target.searchParams.append(k, v);
      target.searchParams.set('page', String(n));
      target.searchParams.set('per_page', String(perPage));
      return target.href;
    };
    const links = [`<${link(page)}>; rel="current"`];
    if (page < last) {
      const next = link(page + 1);
      links.push(`<${this.rewriteNext === null ? next : this.rewriteNext(next)}>; rel="next"`);
    }
    if (page > 1) links.push(`<${link(page - 1)}>; rel="prev"`);
    links.push(`<${link(1)}>; rel="first"`, `<${link(last)}>; rel="last"`);
    const body = key === undefined ? slice : { [key]: slice, meta: { pagination: { per_page: perPage, page, page_count: last } } };
    return json(200, body, stringIds, { link: links.join(',') });
  }
}

function apiCourseStates(state: string): string[] {
  // The account courses API's state[] uses the model's states; the answers the API's names.
  switch (state) {
    case 'created':
    case 'claimed':
      return ['unpublished'];
    case 'available':
    case 'completed':
    case 'deleted':
      return [state];
    default:
      return [];
  }
}

function gradesOf(assignments: StandinAssignment[], submissions: StandinSubmission[]): StandinGrades {
  let possible = 0;
  let postedPoints = 0;
  let postedPossible = 0;
  let allPoints = 0;
  let allPossible = 0;
  for (const a of assignments) {
    possible += a.pointsPossible ?? 0;
    const s = submissions.find((x) => x.assignmentId === a.id);
    if (s === undefined || s.score === null) continue;
    allPoints += s.score;
    allPossible += a.pointsPossible ?? 0;
    if (s.postedAt !== null) {
      postedPoints += s.score;
      postedPossible += a.pointsPossible ?? 0;
    }
  }
  const pct = (points: number, of: number) => (of === 0 ? null : round2((points / of) * 100));
  return {
    current_score: pct(postedPoints, postedPossible),
    final_score: pct(postedPoints, possible),
    unposted_current_score: pct(allPoints, allPossible),
    unposted_final_score: pct(allPoints, possible),
    override_score: null,
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().replace('.000Z', 'Z');
}

function courseJson(c: StandinCourse): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    course_code: c.name,
    sis_course_id: c.sis,
    integration_id: null,
    uuid: `uuid-course-${c.id}`,
    workflow_state: c.workflowState,
    account_id: c.accountId,
    root_account_id: c.rootAccountId,
    enrollment_term_id: c.termId,
    grading_standard_id: null,
    default_view: 'modules',
    is_public: false,
  };
}

function enrollmentJson(base: string, c: StandinCourse, s: StandinStudent, g: StandinGrades): Record<string, unknown> {
  const grades: Record<string, unknown> = {
    html_url: `${base}/courses/${c.id}/grades/${s.userId}`,
    current_grade: null,
    current_score: g.current_score,
    final_grade: null,
    final_score: g.final_score,
    unposted_current_score: g.unposted_current_score,
    unposted_current_grade: null,
    unposted_final_score: g.unposted_final_score,
    unposted_final_grade: null,
  };
  // grades_hash: `grades[:override_score] = override_score if override_score.present?`, and
  // Enrollment#override_score is nil unless the course allows Final Grade Override.
  if (c.finalGradeOverride && g.override_score !== null) grades['override_score'] = g.override_score;
  return {
    id: s.enrollmentId,
    user_id: s.userId,
    course_id: c.id,
    type: 'StudentEnrollment',
    role: 'StudentEnrollment',
    role_id: 3,
    course_section_id: c.id * 10,
    root_account_id: c.rootAccountId,
    associated_user_id: null,
    limit_privileges_to_course_section: false,
    enrollment_state: s.state,
    created_at: iso(s.updatedAt),
    updated_at: iso(s.updatedAt),
    start_at: null,
    end_at: null,
    sis_account_id: null,
    sis_course_id: c.sis,
    sis_section_id: null,
    sis_user_id: s.sis,
    html_url: `${base}/courses/${c.id}/users/${s.userId}`,
    grades,
    user: { id: s.userId, name: `Student ${s.userId}`, sortable_name: `${s.userId}, Student`, short_name: `Student ${s.userId}`, sis_user_id: s.sis },
  };
}

function assignmentJson(c: StandinCourse, a: StandinAssignment): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    description: null,
    course_id: c.id,
    assignment_group_id: c.id * 100,
    points_possible: a.pointsPossible,
    grading_type: 'points',
    published: a.published,
    muted: false,
    post_manually: false,
    due_at: null,
    submission_types: ['online_text_entry'],
    html_url: `/courses/${c.id}/assignments/${a.id}`,
  };
}

function submissionJson(base: string, c: StandinCourse, s: StandinSubmission): Record<string, unknown> {
  return {
    id: s.id,
    assignment_id: s.assignmentId,
    user_id: s.userId,
    attempt: s.workflowState === 'unsubmitted' ? null : 1,
    body: null,
    grade: s.grade,
    score: s.score,
    entered_grade: s.grade,
    entered_score: s.score,
    grade_matches_current_submission: true,
    graded_at: iso(s.gradedAt),
    posted_at: iso(s.postedAt),
    grader_id: s.graderId,
    submitted_at: iso(s.gradedAt),
    workflow_state: s.workflowState,
    late: false,
    missing: false,
    excused: false,
    late_policy_status: null,
    points_deducted: null,
    seconds_late: 0,
    preview_url: `${base}/courses/${c.id}/assignments/${s.assignmentId}/submissions/${s.userId}?preview=1`,
  };
}

function periodJson(p: StandinPeriod): Record<string, unknown> {
  return {
    id: p.id,
    title: p.title,
    start_date: iso(p.start),
    end_date: iso(p.end),
    close_date: iso(p.end),
    weight: null,
    is_closed: false,
    is_last: false,
  };
}

function notFound(): RawReply {
  return json(404, { errors: [{ message: 'The specified resource does not exist.' }] }, false);
}

/** A JSON answer; with string ids, every `id` / `*_id` integer and `ids` / `*_ids` array member as a string. */
function json(status: number, body: unknown, stringIds: boolean, headers: Record<string, string> = {}): RawReply {
  return {
    status,
    body: JSON.stringify(stringIds ? stringifyIds(body) : body),
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  };
}

function stringifyIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stringifyIds);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (/(^|_)id$/.test(key) && Number.isInteger(v)) out[key] = String(v);
    else if (/(^|_)ids$/.test(key) && Array.isArray(v)) out[key] = v.map((x) => (Number.isInteger(x) ? String(x) : x));
    else out[key] = stringifyIds(v);
  }
  return out;
}
