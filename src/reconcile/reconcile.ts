import { readGlobalId } from '../intake/ids.js';
import { IntakeProblem } from '../intake/reasons.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import {
  courseRecords,
  type CanvasAssignmentInfo,
  type CanvasCourseInfo,
  type CanvasEnrollmentInfo,
  type CanvasSubmissionInfo,
  type CourseSnapshot,
  type Dated,
} from './canvas-records.js';
import { NO_GRADING_PERIOD } from '../state/tables.js';
import { addDrift, drift, storedByKey, storedKeys, zeroDrift, type DriftByType } from './drift.js';

/**
 * Reconciliation (SPEC §8): each course read from Canvas's REST API, made into records, compared with
 * the store (drift) and folded by the same last-writer-wins rule as events, at the instant of each answer.
 * Courses are read a few at a time; one that Canvas does not know (404) or that fails is reported and the
 * others go on; a refused token (401) ends the whole reconciliation at once.
 */

/** What reconciliation reads of Canvas (src/sources/canvas/ over the REST API). Pages carry their answer's instant. */
export interface CanvasReader {
  course(courseId: string): Promise<Dated<CanvasCourseInfo>>;
  accountCourses(accountId: string, termId?: string): AsyncIterable<Dated<CanvasCourseInfo>[]>;
  gradingPeriods(courseId: string): Promise<{ id: string }[]>;
  assignments(courseId: string): AsyncIterable<Dated<CanvasAssignmentInfo>[]>;
  submissions(courseId: string): AsyncIterable<Dated<CanvasSubmissionInfo>[]>;
  studentEnrollments(courseId: string, gradingPeriodId?: string): AsyncIterable<Dated<CanvasEnrollmentInfo>[]>;
}

export type CourseStatus = 'reconciled' | 'not_found' | 'failed';

export interface CourseReport {
  /** The course as asked for (a Canvas course id, or an account's course). */
  course: string;
  /** Its canonical (global) id, once read. */
  course_id: string | null;
  status: CourseStatus;
  error?: string;
  drift: DriftByType;
  /** The fold's outcomes of the course's records (all stale when live events newer than the read won). */
  applied: number;
  stale: number;
  duplicate: number;
  /** Items Canvas answered that could not be read (skipped, with why). */
  skipped: { what: string; why: string }[];
}

export interface ReconcileReport {
  courses: CourseReport[];
  totals: DriftByType;
  /** Courses by status. */
  reconciled: number;
  not_found: number;
  failed: number;
}

export interface ReconcileOptions {
  reader: CanvasReader;
  store: StateStore;
  shard: string;
  /** Canvas course ids; or every course of `account` (of `term`, when given). */
  courses?: readonly string[];
  account?: string;
  term?: string;
  /** Read and compare; fold nothing. */
  dryRun?: boolean;
  /** Courses read at once (default 2; the client bounds requests in flight besides). */
  concurrency?: number;
  log?: Logger;
  /** After each course: how many are done of how many (known once an account's list is read). */
  progress?: (done: number, total: number | undefined) => void;
  /**
   * Held around each course's fold: the SIS targets' sync locks, so that a reconciliation never folds
   * while a sync to one of them runs. Returns the release.
   */
  exclusive?: () => Promise<() => Promise<void>>;
}

/** The error codes (src/sources/canvas/) that decide what a failed course means. */
const NOT_FOUND = 'CANVAS_NOT_FOUND';
const UNAUTHORIZED = 'CANVAS_UNAUTHORIZED';
const codeOf = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;

export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { courses: [], totals: zeroDrift(), reconciled: 0, not_found: 0, failed: 0 };
  const queue: { id: string; known?: Dated<CanvasCourseInfo> }[] = (options.courses ?? []).map((id) => ({ id }));
  let total: number | undefined = options.account === undefined ? queue.length : undefined;
  if (options.account !== undefined) {
    for await (const page of options.reader.accountCourses(options.account, options.term)) {
      for (const course of page) queue.push({ id: String(course.item.id), known: course });
    }
    total = queue.length;
  }
  let next = 0;
  let done = 0;
  let fatal: unknown;
  const worker = async () => {
    while (fatal === undefined && next < queue.length) {
      const { id, known } = queue[next++]!;
      const course = await reconcileCourse(options, id, known).catch((err: unknown) => {
        if (codeOf(err) === UNAUTHORIZED) fatal = err;
        return failed(id, err);
      });
      report.courses.push(course);
      report[course.status] += 1;
      addDrift(report.totals, course.drift);
      options.progress?.(++done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  if (fatal !== undefined) throw fatal;
  // In the order asked (they finish in any order).
  const order = new Map(queue.map((q, i) => [q.id, i]));
  report.courses.sort((a, b) => order.get(a.course)! - order.get(b.course)!);
  return report;
}

function failed(course: string, err: unknown): CourseReport {
  const status: CourseStatus = codeOf(err) === NOT_FOUND ? 'not_found' : 'failed';
  const error = err instanceof Error ? err.message : String(err);
  return { course, course_id: null, status, error, drift: zeroDrift(), applied: 0, stale: 0, duplicate: 0, skipped: [] };
}

async function collect<T>(pages: AsyncIterable<Dated<T>[]>): Promise<Dated<T>[]> {
  const all: Dated<T>[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

async function reconcileCourse(options: ReconcileOptions, id: string, known: Dated<CanvasCourseInfo> | undefined): Promise<CourseReport> {
  const { reader, store, shard } = options;
  const course = known ?? (await reader.course(id));
  const canvasId = String(course.item.id);
  const [assignments, enrollments, submissions, periods] = await Promise.all([
    collect(reader.assignments(canvasId)),
    collect(reader.studentEnrollments(canvasId)),
    collect(reader.submissions(canvasId)),
    reader.gradingPeriods(canvasId),
  ]);
  // The course's keys as stored: an ungraded submission whose key is stored is a grade removed since; a
  // stored override Canvas no longer shows was cleared.
  const courseId = readable(() => readGlobalId(course.item.id, shard, 'course.id'));
  const stored = storedByKey(await store.courseRows(courseId));
  // A period's overrides are read when Final Grade Override shows (an override_score in some grades), or
  // when the store holds one for a period (it may have been cleared since).
  const overrides =
    enrollments.some((e) => e.item.grades != null && 'override_score' in e.item.grades) ||
    [...stored.override.values()].some((row) => row['grading_period_id'] !== NO_GRADING_PERIOD && row['override_score'] !== null);
  const snapshot: CourseSnapshot = {
    course,
    assignments,
    submissions,
    enrollments,
    periods: overrides
      ? await Promise.all(periods.map(async (p) => ({ id: String(p.id), enrollments: await collect(reader.studentEnrollments(canvasId, String(p.id))) })))
      : [],
  };
  const { records, mappings, skipped } = readable(() => courseRecords(snapshot, shard, storedKeys(stored)));
  const report: CourseReport = {
    course: id,
    course_id: courseId,
    status: 'reconciled',
    drift: drift(records, stored),
    applied: 0,
    stale: 0,
    duplicate: 0,
    skipped,
  };
  if (!options.dryRun && (records.length > 0 || mappings.length > 0)) {
    const release = options.exclusive === undefined ? undefined : await options.exclusive();
    try {
      for (const outcome of await store.apply({ records, mappings, quarantine: [] })) report[outcome] += 1;
    } finally {
      await release?.();
    }
  }
  options.log?.info({ course: id, course_id: courseId, drift: report.drift, skipped: skipped.length }, 'course reconciled');
  return report;
}

/** What the course's own fields make unreadable (its id, its root account) fails the course, saying so. */
function readable<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof IntakeProblem) throw new Error(`Canvas answered a course gradestream cannot read: ${err.detail}`);
    throw err;
  }
}
