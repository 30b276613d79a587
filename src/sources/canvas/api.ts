import { UsageError } from '../../errors.js';
import type { CanvasClient, Dated, Page } from './client.js';
import {
  CanvasAssignment,
  CanvasCourse,
  CanvasEnrollment,
  CanvasGradingPeriod,
  CanvasSubmission,
} from './schemas.js';

export type { CanvasAssignment, CanvasCourse, CanvasEnrollment, CanvasGrades, CanvasGradingPeriod, CanvasSubmission } from './schemas.js';

/**
 * Typed readers of what reconciliation needs (SPEC §8), over one CanvasClient. Lists are async
 * generators of pages, each with the instant of its answer's Date header (`date`) and the items that
 * did not match their documented shape (`rejected`), so the caller can fold each page at its own
 * instant and report the rest.
 *
 * Ids passed in are Canvas ids as decimal strings (local or global); anything else is a UsageError
 * before any request.
 */

/**
 * Enrollment states read (the Enrollments API's state[]; without it Canvas sends active and invited
 * only): a student's grade counts while the enrollment is active, invited (graded before accepting),
 * completed (concluded: final grades, what the SIS wants at term end) or inactive (deactivated, the
 * grade kept); "deleted" is read too, because a deleted enrollment's scores are deleted with it: that
 * is SPEC §2's course score workflow_state "deleted" (see scoreWorkflowState). Left out:
 * creation_pending (no grades yet) and rejected (an invitation refused).
 */
export const ENROLLMENT_STATES = ['active', 'invited', 'completed', 'inactive', 'deleted'] as const;

/** SPEC §2's course score workflow_state for an enrollment as Canvas lists it. */
export function scoreWorkflowState(enrollment: Pick<CanvasEnrollment, 'enrollment_state'>): 'active' | 'deleted' {
  return enrollment.enrollment_state === 'deleted' ? 'deleted' : 'active';
}

export class CanvasApi {
  constructor(readonly client: CanvasClient) {}

  /** GET /api/v1/courses/:id. 404 → CanvasNotFoundError. */
  course(courseId: string): Promise<Dated<CanvasCourse>> {
    return this.client.get(`/api/v1/courses/${id(courseId, 'course')}`, {}, CanvasCourse);
  }

  /**
   * GET /api/v1/accounts/:id/courses (with sub-accounts' courses), optionally of one term. Every
   * state is asked for (state[]=all), deleted courses included, so the caller sees a course that was
   * deleted (workflow_state "deleted"); by default Canvas leaves those out.
   */
  accountCourses(accountId: string, termId?: string): AsyncGenerator<Page<CanvasCourse>> {
    return this.client.pages(
      `/api/v1/accounts/${id(accountId, 'account')}/courses`,
      { enrollment_term_id: termId === undefined ? undefined : id(termId, 'term'), 'state[]': ['all'] },
      CanvasCourse,
    );
  }

  /**
   * GET /api/v1/courses/:id/enrollments?type[]=StudentEnrollment&state[]=… (ENROLLMENT_STATES). With a
   * grading period, the grades are that period's, override included (grades_hash scores with
   * grading_period_id); an unknown grading period is a 400 (CanvasRequestError). A student enrolled in
   * two sections of a course is listed once per enrollment, with the same grades.
   *
   * `grades.override_score` is there only when Canvas sent it: Final Grade Override is on for the
   * course AND the student has an override. Without the key the student has no override (never set, or
   * cleared), or the feature is off; Canvas's REST answers do not tell the two apart (see schemas.ts).
   */
  studentEnrollments(courseId: string, gradingPeriodId?: string): AsyncGenerator<Page<CanvasEnrollment>> {
    return this.client.pages(
      `/api/v1/courses/${id(courseId, 'course')}/enrollments`,
      {
        'type[]': ['StudentEnrollment'],
        'state[]': ENROLLMENT_STATES,
        grading_period_id: gradingPeriodId === undefined ? undefined : id(gradingPeriodId, 'grading period'),
      },
      CanvasEnrollment,
    );
  }

  /** GET /api/v1/courses/:id/assignments (not deleted ones; unpublished ones too). */
  assignments(courseId: string): AsyncGenerator<Page<CanvasAssignment>> {
    return this.client.pages(`/api/v1/courses/${id(courseId, 'course')}/assignments`, {}, CanvasAssignment);
  }

  /**
   * GET /api/v1/courses/:id/students/submissions?student_ids[]=all: every student's submissions to
   * every published assignment (Canvas lists submissions of published assignments only, for
   * enrollments that are not deleted), in id order.
   */
  submissions(courseId: string): AsyncGenerator<Page<CanvasSubmission>> {
    return this.client.pages(
      `/api/v1/courses/${id(courseId, 'course')}/students/submissions`,
      { 'student_ids[]': ['all'], order: 'id' },
      CanvasSubmission,
    );
  }

  /** GET /api/v1/courses/:id/grading_periods: `{"grading_periods": [...]}`, empty when there are none. */
  gradingPeriods(courseId: string): AsyncGenerator<Page<CanvasGradingPeriod>> {
    return this.client.pages(`/api/v1/courses/${id(courseId, 'course')}/grading_periods`, {}, CanvasGradingPeriod, {
      key: 'grading_periods',
    });
  }
}

/**
 * Every item of every page, for a small list (assignments, grading periods) read whole; `date` is the
 * earliest page's (the conservative instant: anything Canvas changed after it is newer than the read).
 */
export async function readAll<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; rejected: number; date: number | null }> {
  const items: T[] = [];
  let rejected = 0;
  let date: number | null = null;
  for await (const page of pages) {
    items.push(...page.items);
    rejected += page.rejected.length;
    date = date === null ? page.date : Math.min(date, page.date);
  }
  return { items, rejected, date };
}

function id(value: string, what: string): string {
  if (typeof value !== 'string' || !/^[0-9]{1,19}$/.test(value)) {
    throw new UsageError(`${JSON.stringify(String(value).slice(0, 40))} is not a Canvas ${what} id (a decimal number)`);
  }
  return value;
}
