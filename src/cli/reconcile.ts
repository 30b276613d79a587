import { userInfo } from 'node:os';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { runReconciliation } from '../reconcile/run.js';
import { canvasShard } from '../reconcile/shard.js';
import { CanvasApi } from '../sources/canvas/api.js';
import { CanvasClient } from '../sources/canvas/client.js';
import { canvasReader } from '../sources/canvas/reader.js';
import { openStore } from '../state/store.js';
import { SyncEngine } from '../sync/engine.js';
import { loadSchedules } from '../sync/schedules.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

export interface ReconcileOptions extends SharedOptions {
  canvasUrl?: string;
  course?: string[];
  account?: string;
  term?: string;
  canvasShard?: string;
  dryRun?: boolean;
  as?: string;
}

/**
 * `gradestream reconcile` (SPEC §8): reads courses from Canvas's REST API (the token from
 * GRADESTREAM_CANVAS_TOKEN, never a flag), folds them into the store, reports drift per course, and
 * records the reconciliation in the history. Exit 0 when every course was reconciled, 1 when one was
 * not (404, a failure) or Canvas refused the token, 2 for a command line that cannot run (no token, no
 * shard, no courses) — before anything is read or written.
 */
export async function reconcileCommand(opts: ReconcileOptions, io: CliIo): Promise<number> {
  const config = commandConfig(opts, io, { canvasShard: opts.canvasShard, canvasUrl: opts.canvasUrl });
  const courses = opts.course ?? [];
  if ((courses.length > 0) === (opts.account !== undefined)) throw new UsageError('give --course ID... or --account ID (with --term ID optionally), not both');
  if (opts.term !== undefined && opts.account === undefined) throw new UsageError('--term needs --account');
  for (const id of [...courses, opts.account, opts.term]) {
    if (id !== undefined && !/^[0-9]{1,19}$/.test(id)) throw new UsageError(`${JSON.stringify(id)} is not a Canvas id`);
  }
  if (config.canvasUrl === undefined) throw new UsageError('no Canvas URL: give --canvas-url URL (or GRADESTREAM_CANVAS_URL)');
  if (config.canvasToken === undefined) throw new UsageError('no Canvas API token: set GRADESTREAM_CANVAS_TOKEN (it is never a flag)');
  const log = createLogger(config.logLevel, undefined, config.logFormat);
  const client = new CanvasClient({ baseUrl: config.canvasUrl, token: config.canvasToken, log });
  const schedules = config.schedulesFile === undefined ? [] : await loadSchedules(config.schedulesFile, { defaultTimeZone: config.timeZone });
  const store = await openStore(config.stateUrl);
  const started = Date.now();
  try {
    const shard = await canvasShard(config.canvasShard, store);
    const engine = await SyncEngine.open({ state: store, schedules, sinkUrl: config.sinkUrl });
    try {
      const skipped: string[] = [];
      const reader = canvasReader(new CanvasApi(client), { onRejected: (course, what, item) => skipped.push(`${course} ${what} #${item.index}: ${item.problem}`) });
      const { entry, summary, error } = await runReconciliation({
        engine,
        store,
        reader,
        origin: client.origin,
        shard,
        by: opts.as ?? userInfo().username,
        trigger: 'manual',
        scheduleId: 'reconcile',
        courses,
        account: opts.account,
        term: opts.term,
        dryRun: opts.dryRun,
        log,
        progress: (done, total) => io.stderr.write(`reconcile: ${done}${total === undefined ? '' : `/${total}`} course${total === 1 ? '' : 's'} done\n`),
      });
      if (summary === null) throw error; // nothing was read: it failed before (a refused token)
      const stats = { ...client.stats, seconds: Math.round((Date.now() - started) / 100) / 10 };
      if (opts.json) writeJson(io, { id: entry?.id ?? null, status: entry?.status ?? 'dry_run', dry_run: opts.dryRun === true, ...summary, canvas: stats, rejected: skipped });
      else {
        for (const c of summary.per_course) {
          const d = c.drift;
          io.stdout.write(
            c.status === 'reconciled'
              ? `course ${c.course} (${c.course_id}): assignments ${d.assignment.confirmed} confirmed, ${d.assignment.changed} changed, ${d.assignment.new} new; ` +
                  `course scores ${d.course.confirmed}/${d.course.changed}/${d.course.new}; overrides ${d.override.confirmed}/${d.override.changed}/${d.override.new}` +
                  `${c.skipped > 0 ? `; ${c.skipped} skipped` : ''}\n`
              : `course ${c.course}: ${c.status}: ${c.error ?? ''}\n`,
          );
        }
        const t = summary.drift;
        const changed = t.assignment.changed + t.course.changed + t.override.changed;
        const fresh = t.assignment.new + t.course.new + t.override.new;
        io.stdout.write(
          `${entry === null ? 'dry run' : `reconcile ${entry.id}`}: ${summary.courses.reconciled} course(s) reconciled, ${summary.courses.not_found} not found, ${summary.courses.failed} failed; ` +
            `${changed} changed (drift), ${fresh} new; ${stats.requests} Canvas requests in ${stats.seconds} s\n`,
        );
      }
      return summary.courses.failed + summary.courses.not_found > 0 ? EXIT.failed : EXIT.ok;
    } finally {
      await engine.close();
    }
  } finally {
    await store.close();
  }
}
