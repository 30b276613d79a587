import { formatInstant } from '../../intake/timestamps.js';
import type { CanvasReader } from '../../reconcile/reconcile.js';
import type { CanvasApi } from './api.js';
import type { Page, RejectedItem } from './client.js';

/**
 * The CanvasReader reconciliation reads through (src/reconcile/reconcile.ts), over CanvasApi: each item
 * dated with its page's answer, `posted_at` back as an ISO 8601 string (null stays null). Items Canvas
 * answered that do not match their documented shape are not passed on: `onRejected` hears of each (for
 * the course's report), and they are logged by the client.
 */
export interface ReaderOptions {
  onRejected?: (courseId: string, what: string, item: RejectedItem) => void;
}

export function canvasReader(api: CanvasApi, options: ReaderOptions = {}): CanvasReader {
  async function* dated<T, U>(courseId: string, what: string, pages: AsyncIterable<Page<T>>, map: (item: T) => U) {
    for await (const page of pages) {
      for (const rejected of page.rejected) options.onRejected?.(courseId, what, rejected);
      yield page.items.map((item) => ({ item: map(item), date: page.date }));
    }
  }
  const same = <T>(item: T): T => item;
  return {
    async course(courseId) {
      const { body, date } = await api.course(courseId);
      return { item: body, date };
    },
    accountCourses(accountId, termId) {
      return dated(`account ${accountId}`, 'courses', api.accountCourses(accountId, termId), same);
    },
    async gradingPeriods(courseId) {
      const periods: { id: string }[] = [];
      for await (const page of dated(courseId, 'grading periods', api.gradingPeriods(courseId), same)) periods.push(...page.map((p) => p.item));
      return periods;
    },
    assignments(courseId) {
      return dated(courseId, 'assignments', api.assignments(courseId), same);
    },
    submissions(courseId) {
      return dated(courseId, 'submissions', api.submissions(courseId), (s) => ({
        ...s,
        posted_at: s.posted_at === null ? null : formatInstant(s.posted_at),
      }));
    },
    studentEnrollments(courseId, gradingPeriodId) {
      const what = gradingPeriodId === undefined ? 'enrollments' : `enrollments of grading period ${gradingPeriodId}`;
      return dated(courseId, what, api.studentEnrollments(courseId, gradingPeriodId), same);
    },
  };
}
