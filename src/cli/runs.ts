import { NotFoundError } from '../sync/errors.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { describeRun, positiveInt, withEngine, type SyncCliOptions } from './sync-common.js';

export const RUNS_LIMIT = 20;

/** `gradestream runs list [--schedule ID] [--limit N]`: the sync history, newest first. */
export async function runsList(opts: SyncCliOptions & { schedule?: string; limit?: string }, io: CliIo): Promise<number> {
  const limit = positiveInt('--limit', opts.limit, RUNS_LIMIT);
  const entries = await withEngine(opts, io, (engine) => engine.runs({ schedule: opts.schedule, limit }), { readOnly: true });
  if (opts.json) writeJson(io, { runs: entries });
  else io.stdout.write(entries.length === 0 ? 'no runs yet\n' : entries.map((e) => `${describeRun(e)}\n`).join(''));
  return EXIT.ok;
}

/** `gradestream runs show RUN_ID`: one history entry; exit 1 when there is no such run. */
export async function runsShow(id: string, opts: SyncCliOptions, io: CliIo): Promise<number> {
  const entry = await withEngine(opts, io, (engine) => engine.run(id), { readOnly: true });
  if (entry === null) throw new NotFoundError(`no run ${JSON.stringify(id)} in the history`);
  if (opts.json) writeJson(io, { ...entry });
  else {
    io.stdout.write(`${describeRun(entry)}\n`);
    io.stdout.write(`  started ${entry.started_at}, finished ${entry.finished_at ?? '-'}; target ${entry.target}\n`);
  }
  return EXIT.ok;
}
