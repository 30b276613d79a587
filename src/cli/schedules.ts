import { UsageError } from '../errors.js';
import { nextRuns } from '../sync/next-run.js';
import type { ScheduleView } from '../sync/engine.js';
import { UnknownScheduleError } from '../sync/errors.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig } from './options.js';
import { describeRun, instantOption, positiveInt, schedulesOf, withEngine, type SyncCliOptions } from './sync-common.js';

/** `gradestream schedules list [--now ISO]`: every schedule with its next run and status. */
export async function schedulesList(opts: SyncCliOptions & { now?: string }, io: CliIo): Promise<number> {
  const now = instantOption('--now', opts.now, Date.now());
  const views = await withEngine(opts, io, (engine) => engine.list(now), { readOnly: true });
  if (views.length === 0) io.stderr.write('gradestream: no schedules defined (GRADESTREAM_SCHEDULES_FILE or --schedules names the file)\n');
  if (opts.json) {
    writeJson(io, { schedules: views.map(scheduleJson) });
    return EXIT.ok;
  }
  const rows = [
    ['ID', 'HOUR', 'TIME ZONE', 'NEXT RUN (UTC)', 'STATUS', 'POSTED BY', 'ROOT ACCOUNT'],
    ...views.map((v) => [v.id, String(v.hourOfDay), v.timeZone, v.next_run, v.status, v.postedBy, v.rootAccountId ?? '(all)']),
  ];
  io.stdout.write(table(rows));
  return EXIT.ok;
}

/** A schedule as `--json` prints it: the view's keys in snake_case (the API keeps the view as it is). */
function scheduleJson(v: ScheduleView): Record<string, unknown> {
  const { id, hourOfDay, timeZone, postedBy, rootAccountId, ...rest } = v;
  return { id, hour_of_day: hourOfDay, time_zone: timeZone, posted_by: postedBy, root_account_id: rootAccountId, ...rest };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function describeStatus(v: ScheduleView): string {
  const by = v.status_changed_by === null ? '' : ` (since ${v.status_changed_at}, by ${v.status_changed_by})`;
  return `${v.id}: ${v.status}${by}; next run ${v.next_run}\n`;
}

/** `gradestream schedules pause|resume ID --as NAME`: kept in the store; survives restarts. */
export async function schedulesSetStatus(
  action: 'pause' | 'resume',
  id: string,
  opts: SyncCliOptions & { as: string },
  io: CliIo,
): Promise<number> {
  const view = await withEngine(opts, io, (engine) => (action === 'pause' ? engine.pause(id, opts.as) : engine.resume(id, opts.as)));
  if (opts.json) writeJson(io, scheduleJson(view));
  else io.stdout.write(describeStatus(view));
  return EXIT.ok;
}

/** `gradestream schedules next ID [--after ISO] [--count N]`: the next N run instants, UTC ISO. */
export async function schedulesNext(id: string, opts: SyncCliOptions & { after?: string; count?: string }, io: CliIo): Promise<number> {
  const after = instantOption('--after', opts.after, Date.now());
  const count = positiveInt('--count', opts.count, 1, 1000);
  const schedules = await schedulesOf(commandConfig(opts, io));
  const schedule = schedules.find((s) => s.id === id);
  if (schedule === undefined) throw new UnknownScheduleError(id, schedules.map((s) => s.id));
  const runs = nextRuns(schedule, after, count).map((t) => new Date(t).toISOString());
  if (opts.json) writeJson(io, { schedule: schedule.id, runs });
  else io.stdout.write(runs.map((r) => `${r}\n`).join(''));
  return EXIT.ok;
}

/**
 * `gradestream schedules tick [--now ISO]` (operational, hidden from help): claims each schedule's
 * latest occurrence at or before NOW that nobody has claimed, and runs it (or records it as skipped
 * when the schedule is suspended) — one pass of the service's scheduler. For running schedules from
 * cron instead of the service, and for tests; replicas racing on one occurrence run it once. Exit 1
 * when a run failed.
 */
export async function schedulesTick(opts: SyncCliOptions & { now?: string }, io: CliIo): Promise<number> {
  const now = instantOption('--now', opts.now, Date.now());
  const entries = await withEngine(opts, io, (engine) => engine.tick(now));
  if (opts.json) writeJson(io, { runs: entries });
  else io.stdout.write(entries.length === 0 ? 'nothing due\n' : entries.map((e) => `${describeRun(e)}\n`).join(''));
  const failed = entries.filter((e) => e.status === 'failed');
  for (const e of failed) io.stderr.write(`gradestream: run ${e.id} of ${e.schedule} failed: ${e.error}\n`);
  return failed.length > 0 ? EXIT.failed : EXIT.ok;
}

export function requireOne(flags: Record<string, unknown>): string {
  const given = Object.entries(flags).filter(([, v]) => v !== undefined && v !== false);
  if (given.length !== 1) throw new UsageError(`give exactly one of ${Object.keys(flags).join(', ')}`);
  return given[0]![0];
}
