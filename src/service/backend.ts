import { UsageError } from '../errors.js';
import type { StateStore } from '../state/store.js';
import { NotFoundError, UnknownScheduleError } from '../sync/errors.js';
import { resendView } from '../sync/engine.js';
import type { Scheduler } from '../sync/scheduler.js';
import type { AdminBackend } from './api.js';
import { HttpError } from './http-error.js';

/** Maps the sync engine's errors to HTTP answers: an unknown schedule is a 404, not a 500. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UnknownScheduleError || err instanceof NotFoundError) throw new HttpError(404, err.message);
    if (err instanceof UsageError) throw new HttpError(400, err.message);
    throw err;
  }
}

/** The admin API over the scheduler (schedules, runs, held rows, resend) and the store (quarantine). */
export function adminBackend(scheduler: Scheduler, store: StateStore): AdminBackend {
  return {
    listSchedules: () => answer(() => scheduler.list()),
    runSchedule: (id, by) => answer(() => scheduler.runNow(id, by)),
    startRun: (id, by) => answer(async () => ({ run_id: await scheduler.startRun(id, by) })),
    pauseSchedule: (id, by) => answer(() => scheduler.pause(id, by)),
    resumeSchedule: (id, by) => answer(() => scheduler.resume(id, by)),
    resend: (sel, by) =>
      answer(async () => {
        const request = sel.all
          ? ({ selector: 'all', by } as const)
          : sel.course !== undefined
            ? ({ selector: 'course', id: sel.course, by } as const)
            : ({ selector: 'assignment', id: sel.assignment ?? null, by } as const);
        return resendView(request, await scheduler.resend(request));
      }),
    listRuns: (limit) => answer(() => scheduler.runs({ limit })),
    getRun: (id) => answer(async () => (await scheduler.run(id)) ?? undefined),
    listHeld: (limit) => answer(() => scheduler.held({ limit })),
    listQuarantine: (limit, after) => answer(() => store.listQuarantine({ limit, after })),
  };
}
