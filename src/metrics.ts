import { Counter, Histogram, Registry } from 'prom-client';

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

/** An event-name label value: ignored events carry any name, so bound the label's cardinality. */
export function eventLabel(name: string): string {
  return /^[a-z][a-z0-9_]{0,63}$/.test(name) ? name : 'other';
}

export { Registry };
