import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { HELD_REASONS, type HeldCounts, type RowsBy } from './view.js';

/**
 * Sync metrics (SPEC §7.4), in a registry the caller owns. Labels are schedule ids (validated plain
 * names), record types, ops, reasons and the sink's kind (file|s3|https) — never a URL (it may carry
 * credentials) and never a student, course or assignment id.
 */
export interface SyncMetrics {
  runs: Counter<'schedule' | 'trigger' | 'status'>;
  rows: Counter<'schedule' | 'record_type' | 'op'>;
  held: Gauge<'schedule' | 'reason'>;
  lastSuccess: Gauge<'schedule'>;
  everSucceeded: Gauge<'schedule'>;
  lastFailure: Gauge<'schedule'>;
  nextRun: Gauge<'schedule'>;
  suspended: Gauge<'schedule'>;
  duration: Histogram<'schedule'>;
  sinkErrors: Counter<'sink'>;
}

export function syncMetrics(registry: Registry): SyncMetrics {
  const registers = [registry];
  return {
    runs: new Counter({
      name: 'gradestream_sync_runs_total',
      help: 'Sync runs by schedule, trigger (scheduled|manual|catch_up) and status (succeeded|failed|skipped)',
      labelNames: ['schedule', 'trigger', 'status'],
      registers,
    }),
    rows: new Counter({
      name: 'gradestream_sync_rows_total',
      help: 'Feed rows delivered and acknowledged, by schedule, record type and op',
      labelNames: ['schedule', 'record_type', 'op'],
      registers,
    }),
    held: new Gauge({
      name: 'gradestream_sync_held_records',
      help: "Rows with a pending change that is not visible, in the schedule's scope, by reason (as of its last run)",
      labelNames: ['schedule', 'reason'],
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'gradestream_sync_last_success_timestamp_seconds',
      help: 'When the schedule last finished a successful run (Unix time); 0 until its first success (see gradestream_sync_ever_succeeded)',
      labelNames: ['schedule'],
      registers,
    }),
    everSucceeded: new Gauge({
      name: 'gradestream_sync_ever_succeeded',
      help: '1 once a run of the schedule has succeeded (from the history), else 0',
      labelNames: ['schedule'],
      registers,
    }),
    lastFailure: new Gauge({
      name: 'gradestream_sync_last_failure_timestamp_seconds',
      help: 'When the schedule last finished a failed run (Unix time); 0 if none has failed',
      labelNames: ['schedule'],
      registers,
    }),
    nextRun: new Gauge({
      name: 'gradestream_schedule_next_run_timestamp_seconds',
      help: 'The next scheduled run of the schedule (Unix time)',
      labelNames: ['schedule'],
      registers,
    }),
    suspended: new Gauge({
      name: 'gradestream_schedule_suspended',
      help: '1 while the schedule is suspended (paused), else 0',
      labelNames: ['schedule'],
      registers,
    }),
    duration: new Histogram({
      name: 'gradestream_sync_duration_seconds',
      help: 'Duration of sync runs (not skipped ones), by schedule',
      labelNames: ['schedule'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    }),
    sinkErrors: new Counter({
      name: 'gradestream_sink_errors_total',
      help: 'Failed batch deliveries, by sink kind (file|s3|https)',
      labelNames: ['sink'],
      registers,
    }),
  };
}

export const TRIGGERS = ['scheduled', 'manual', 'catch_up'] as const;
export const RUN_STATUSES = ['succeeded', 'failed', 'skipped'] as const;

/**
 * Every series an alert reads exists from start (SPEC §7.4): counters at 0 for each schedule, trigger
 * and status, and the sink's kind; the last-outcome gauges at 0 until the history says otherwise
 * (setOutcomes). `increase(…) > 0` then sees the first failure after a restart.
 */
export function initScheduleMetrics(m: SyncMetrics, schedules: readonly string[], sinkKinds: readonly string[]): void {
  for (const schedule of schedules) {
    for (const trigger of TRIGGERS) for (const status of RUN_STATUSES) m.runs.inc({ schedule, trigger, status }, 0);
    for (const record_type of ['assignment', 'course']) for (const op of ['upsert', 'delete']) m.rows.inc({ schedule, record_type, op }, 0);
    m.lastSuccess.set({ schedule }, 0);
    m.everSucceeded.set({ schedule }, 0);
    m.lastFailure.set({ schedule }, 0);
    m.suspended.set({ schedule }, 0);
  }
  for (const sink of sinkKinds) m.sinkErrors.inc({ sink }, 0);
}

/** The last success and failure as the history has them (ms; null: none). */
export function setOutcomes(m: SyncMetrics, schedule: string, last: { succeeded: number | null; failed: number | null }): void {
  m.lastSuccess.set({ schedule }, last.succeeded === null ? 0 : last.succeeded / 1000);
  m.everSucceeded.set({ schedule }, last.succeeded === null ? 0 : 1);
  m.lastFailure.set({ schedule }, last.failed === null ? 0 : last.failed / 1000);
}

/** Records one finished run. */
export function observeRun(
  m: SyncMetrics,
  run: {
    schedule: string;
    trigger: string;
    status: string;
    rows_by: RowsBy;
    held: HeldCounts | null;
    finished_at: number | null;
    duration_seconds: number | null;
  },
): void {
  m.runs.inc({ schedule: run.schedule, trigger: run.trigger, status: run.status });
  if (run.status === 'skipped') return;
  if (run.duration_seconds !== null) m.duration.observe({ schedule: run.schedule }, run.duration_seconds);
  if (run.status === 'succeeded') {
    for (const recordType of ['assignment', 'course'] as const) {
      for (const op of ['upsert', 'delete'] as const) {
        const n = run.rows_by[recordType][op];
        if (n > 0) m.rows.inc({ schedule: run.schedule, record_type: recordType, op }, n);
      }
    }
    if (run.finished_at !== null) {
      m.lastSuccess.set({ schedule: run.schedule }, run.finished_at / 1000);
      m.everSucceeded.set({ schedule: run.schedule }, 1);
    }
  }
  if (run.status === 'failed' && run.finished_at !== null) m.lastFailure.set({ schedule: run.schedule }, run.finished_at / 1000);
  if (run.held !== null) for (const reason of HELD_REASONS) m.held.set({ schedule: run.schedule, reason }, run.held[reason]);
}
