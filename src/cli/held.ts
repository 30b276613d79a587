import { UsageError } from '../errors.js';
import { HELD_REASONS, type HeldReason } from '../sync/view.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { positiveInt, withEngine, type SyncCliOptions } from './sync-common.js';

export const HELD_LIMIT = 1000;

/**
 * `gradestream held [--schedule ID] [--reason R] [--limit N]`: rows with a pending change that is
 * not visible, with the reason (unposted, student_unmapped, course_unmapped) and since when. As of
 * each target's last run: a run examines every key whose record or mappings changed since the one before.
 */
export async function heldCommand(opts: SyncCliOptions & { schedule?: string; reason?: string; limit?: string }, io: CliIo): Promise<number> {
  if (opts.reason !== undefined && !HELD_REASONS.includes(opts.reason as HeldReason)) {
    throw new UsageError(`--reason: ${JSON.stringify(opts.reason)} is not one of ${HELD_REASONS.join(', ')}`);
  }
  const limit = positiveInt('--limit', opts.limit, HELD_LIMIT, 1_000_000);
  const rows = await withEngine(opts, io, (engine) => engine.held({ schedule: opts.schedule, reason: opts.reason as HeldReason | undefined, limit }), {
    readOnly: opts.schedule === undefined, // a schedule names its target and scope: the file is needed then
  });
  if (opts.json) {
    writeJson(io, { held: rows });
    return EXIT.ok;
  }
  if (rows.length === 0) io.stdout.write('nothing held\n');
  for (const h of rows) {
    const what =
      h.record_type === 'assignment'
        ? `assignment ${h.assignment_id}`
        : `course grade${h.grading_period_id === null ? '' : ` (grading period ${h.grading_period_id})`}`;
    io.stdout.write(`${h.reason}: course ${h.course_id ?? '-'}, student ${h.student_id}, ${what}; held since ${h.since}; ${h.target}\n`);
  }
  return EXIT.ok;
}
