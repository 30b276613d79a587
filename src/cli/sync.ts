import { UsageError } from '../errors.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { describeRun, withEngine, type SyncCliOptions } from './sync-common.js';

export interface SyncOptions extends SyncCliOptions {
  as?: string;
  dryRun?: boolean;
}

/**
 * `gradestream sync SCHEDULE_ID --as NAME [--dry-run]`: run a schedule now, whatever its status
 * (SPEC §4 "run now"), recorded as a manual run by NAME. Prints the run's history entry. Exit 0 when
 * it succeeded, 1 when it failed (the entry says why; nothing was acknowledged, the next run sends
 * the rows again), 2 for an unknown schedule or bad arguments. --dry-run computes the delta and
 * reports what would be sent and held; nothing is delivered, written or recorded.
 */
export async function syncCommand(scheduleId: string, opts: SyncOptions, io: CliIo): Promise<number> {
  // A dry run records nothing, so it need not say who asked.
  if (opts.as === undefined && !opts.dryRun) throw new UsageError("required option '--as <name>' not specified (who is asking, for the history; not needed with --dry-run)");
  const by = opts.as ?? 'dry run';
  const entry = await withEngine(opts, io, (engine) => engine.runSchedule(scheduleId, { by, dryRun: opts.dryRun }));
  if (opts.json) writeJson(io, entry);
  else io.stdout.write(`${describeRun(entry)}\n`);
  if (entry.status === 'failed') {
    io.stderr.write(`gradestream: run ${entry.id} of ${entry.schedule} failed: ${entry.error}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}
