import { Counter, Histogram, Registry } from 'prom-client';
import { eventKinds } from './intake/records.js';
import { quarantineReasons } from './intake/reasons.js';

/**
 * Metrics (SPEC §7.4), registered in a Registry that the caller owns, so tests and several pipelines
 * in one process never share counters. Labels never carry a student, course or assignment id.
 */
export interface IntakeMetrics {
  events: Counter<'source' | 'event' | 'outcome'>;
  quarantined: Counter<'reason'>;
  eventLag: Histogram<'source'>;
}

export function intakeMetrics(registry: Registry): IntakeMetrics {
  return {
    events: new Counter({
      name: 'gradestream_events_total',
      help: 'Messages received, by source, event name and outcome (applied|stale|duplicate|ignored|quarantined)',
      labelNames: ['source', 'event', 'outcome'],
      registers: [registry],
    }),
    quarantined: new Counter({
      name: 'gradestream_quarantined_total',
      help: 'Messages quarantined, by reason code',
      labelNames: ['reason'],
      registers: [registry],
    }),
    eventLag: new Histogram({
      name: 'gradestream_event_lag_seconds',
      help: 'Ingest time minus the event instant',
      labelNames: ['source'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
      registers: [registry],
    }),
  };
}

export const OUTCOMES = ['applied', 'stale', 'duplicate', 'ignored', 'quarantined'] as const;

/**
 * Every series an alert reads exists from start (SPEC §7.4): each source's grade events by outcome,
 * and every quarantine reason, at 0. Without them `increase(…) > 0` misses the first occurrence after
 * a restart (a series that appears at 1 has no increase to see).
 */
export function initIntakeMetrics(m: IntakeMetrics, sources: readonly string[]): void {
  for (const source of sources) {
    for (const event of eventKinds) for (const outcome of OUTCOMES) m.events.inc({ source, event, outcome }, 0);
  }
  for (const reason of quarantineReasons) m.quarantined.inc({ reason }, 0);
}

/**
 * The event names that are a label value of their own: the grade events and the other Canvas events
 * most often found on the same subscription. Any other name counts as `other`: names come from the
 * input, and each label value is a series kept for the life of the process (README "Metrics").
 */
export const LABELLED_EVENTS: ReadonlySet<string> = new Set([
  ...eventKinds,
  'submission_created',
  'submission_updated',
  'assignment_created',
  'assignment_updated',
  'enrollment_created',
  'enrollment_updated',
  'course_updated',
  'asset_accessed',
]);

/** An event-name label value from a fixed set: `other` beyond it. */
export function eventLabel(name: string): string {
  return LABELLED_EVENTS.has(name) ? name : 'other';
}

export { Registry };
