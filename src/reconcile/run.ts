import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import { historyEntry, type HistoryEntry, type SyncEngine } from '../sync/engine.js';
import { reconcileScope } from '../sync/schedules.js';
import type { RunTrigger } from '../sync/store.js';
import type { DriftByType } from './drift.js';
import { reconcile, type CanvasReader, type ReconcileReport } from './reconcile.js';

/**
 * A reconciliation recorded in the history like a sync run (SPEC §8): kind `reconcile`, target
 * `canvas:ORIGIN`, scope what was read, who started it, and what it found. A dry run is not recorded.
 */
export interface ReconcileScope {
  courses?: readonly string[];
  account?: string;
  term?: string;
}

export interface ReconcileRunOptions extends ReconcileScope {
  engine: SyncEngine;
  store: StateStore;
  reader: CanvasReader;
  /** Canvas's origin (https://canvas.example.edu): the run's target is `canvas:` + it. */
  origin: string;
  shard: string;
  by: string;
  trigger: RunTrigger;
  /** The reconciliation schedule's id, or `reconcile` for one asked for on the command line. */
  scheduleId: string;
  scheduledFor?: number | null;
  dryRun?: boolean;
  log?: Logger;
  progress?: (done: number, total: number | undefined) => void;
  clock?: () => number;
}

/** What the history keeps of a reconciliation (the run's `reconcile` field). */
export interface ReconcileSummary {
  shard: string;
  scope: string;
  courses: { reconciled: number; not_found: number; failed: number };
  drift: DriftByType;
  per_course: { course: string; course_id: string | null; status: string; error?: string; drift: DriftByType; skipped: number }[];
}


export function summaryOf(report: ReconcileReport, shard: string, scope: string): ReconcileSummary {
  return {
    shard,
    scope,
    courses: { reconciled: report.reconciled, not_found: report.not_found, failed: report.failed },
    drift: report.totals,
    per_course: report.courses.map((c) => ({
      course: c.course,
      course_id: c.course_id,
      status: c.status,
      ...(c.error === undefined ? {} : { error: c.error }),
      drift: c.drift,
      skipped: c.skipped.length,
    })),
  };
}

/** A reconciliation's history entry (null for a dry run), what it found (null when it failed before), and its error. */
export interface ReconcileOutcome {
  entry: HistoryEntry | null;
  summary: ReconcileSummary | null;
  error?: unknown;
}

/** Runs one reconciliation, recorded unless a dry run; its history entry (null for a dry run) and report. */
export async function runReconciliation(o: ReconcileRunOptions): Promise<ReconcileOutcome> {
  const clock = o.clock ?? Date.now;
  const runId = o.dryRun
    ? null
    : await o.engine.sync.insertRun({
        kind: 'reconcile',
        schedule_id: o.scheduleId,
        trigger: o.trigger,
        triggered_by: o.by,
        scheduled_for: o.scheduledFor ?? null,
        started_at: clock(),
        status: 'running',
        target: `canvas:${o.origin}`,
        scope: reconcileScope(o),
      });
  return executeReconciliation(o, runId);
}

/** Reads, compares and folds (unless a dry run), and finishes the run `runId` already in the history (null: a dry run). */
export async function executeReconciliation(
  o: Omit<ReconcileRunOptions, 'origin' | 'by' | 'trigger' | 'scheduleId' | 'scheduledFor'>,
  runId: string | null,
): Promise<ReconcileOutcome> {
  const clock = o.clock ?? Date.now;
  const scope = reconcileScope(o);
  let report: ReconcileReport | null = null;
  let error: unknown;
  try {
    report = await reconcile({
      reader: o.reader,
      store: o.store,
      shard: o.shard,
      courses: o.courses,
      account: o.account,
      term: o.term,
      dryRun: o.dryRun || runId === null,
      log: o.log,
      progress: o.progress,
      exclusive: () => o.engine.exclusive(`reconcile ${runId ?? 'dry run'} (pid ${process.pid})`),
    });
  } catch (err) {
    error = err;
  }
  const summary = report === null ? null : summaryOf(report, o.shard, scope);
  if (runId === null) return { entry: null, summary, error };
  const failedCourses = report === null ? 0 : report.failed + report.not_found;
  await o.engine.sync.finishRun(runId, {
    status: error === undefined && failedCourses === 0 ? 'succeeded' : 'failed',
    finished_at: clock(),
    error: error !== undefined ? message(error) : failedCourses > 0 ? `${failedCourses} course${failedCourses === 1 ? '' : 's'} not reconciled (see the report)` : null,
    report: summary,
  });
  const record = await o.engine.sync.getRun(runId);
  return { entry: record === null ? null : historyEntry(record), summary, error };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 1000);
