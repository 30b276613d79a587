import { GradestreamError } from '../errors.js';

/** Errors of the sync engine (SPEC §4–§5); the CLI maps them to exit codes (see src/cli/main.ts). */

/** No schedule with this id in the schedules file. A usage problem: exit 2. */
export class UnknownScheduleError extends GradestreamError {
  readonly code = 'UNKNOWN_SCHEDULE';
  readonly retryable = false;
  constructor(
    readonly scheduleId: string,
    known: readonly string[],
  ) {
    super(
      `no schedule ${JSON.stringify(scheduleId)} in the schedules file` +
        (known.length === 0 ? ' (it defines none)' : ` (known: ${known.join(', ')})`),
    );
  }
}

/** Another run kept the SIS target's lock for longer than this run would wait. */
export class TargetBusyError extends GradestreamError {
  readonly code = 'SYNC_TARGET_BUSY';
  readonly retryable = true;
}

/** The lease on a target was lost during a run (the process stalled past its expiry): nothing acked. */
export class LeaseLostError extends GradestreamError {
  readonly code = 'SYNC_LEASE_LOST';
  readonly retryable = true;
}

/** A history entry that does not exist (runs show). Exit 1. */
export class NotFoundError extends GradestreamError {
  readonly code = 'NOT_FOUND';
  readonly retryable = false;
}
