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
      help: 'When the schedule last finished a successful run (Unix time)',
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
    if (run.finished_at !== null) m.lastSuccess.set({ schedule: run.schedule }, run.finished_at / 1000);
  }
  if (run.held !== null) for (const reason of HELD_REASONS) m.held.set({ schedule: run.schedule, reason }, run.held[reason]);
}
