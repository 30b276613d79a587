import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config.js';
import { CanvasApi } from '../sources/canvas/api.js';
import { CanvasClient } from '../sources/canvas/client.js';
import { canvasReader } from '../sources/canvas/reader.js';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';
import type { Reconciler } from '../sync/engine.js';
import type { ReconcileWhat, Schedule } from '../sync/schedules.js';
import type { DriftByType, RecordType } from './drift.js';
import type { CanvasReader } from './reconcile.js';
import { executeReconciliation, type ReconcileSummary } from './run.js';
import { canvasShard } from './shard.js';

/**
 * Reconciliation schedules (the schedules file's entries with `reconcile:`), run by `gradestream run`
 * like sync schedules — same clock, pause/resume, run now and history — through this Reconciler.
 */
export interface ReconcileMetrics {
  keys: Counter<'record_type' | 'result'>;
}

const TYPES: readonly RecordType[] = ['assignment', 'course', 'override'];
const RESULTS = ['confirmed', 'changed', 'new'] as const;

/** `gradestream_reconcile_keys_total{record_type,result}`, every label set at 0 from start (no ids as labels). */
export function reconcileMetrics(registry: Registry): ReconcileMetrics {
  const keys = new Counter({
    name: 'gradestream_reconcile_keys_total',
    help: 'Keys a reconciliation with Canvas read, by record type and result: confirmed, changed (drift: a lost or late event) or new',
    labelNames: ['record_type', 'result'],
    registers: [registry],
  });
  for (const record_type of TYPES) for (const result of RESULTS) keys.inc({ record_type, result }, 0);
  return { keys };
}

export function countDrift(metrics: ReconcileMetrics, drift: DriftByType): void {
  for (const record_type of TYPES) for (const result of RESULTS) metrics.keys.inc({ record_type, result }, drift[record_type][result]);
}

export interface CanvasReconcilerOptions {
  store: StateStore;
  reader: CanvasReader;
  /** Canvas's origin: the runs' target is `canvas:` + it. */
  origin: string;
  /** GRADESTREAM_CANVAS_SHARD; else the store's one shard, found at each run (the store learns root accounts). */
  shard?: string;
  log?: Logger;
  metrics?: ReconcileMetrics;
}

export function canvasReconciler(o: CanvasReconcilerOptions): Reconciler {
  return {
    target: `canvas:${o.origin}`,
    async execute(what: ReconcileWhat, runId, engine): Promise<ReconcileSummary | null> {
      const shard = await canvasShard(o.shard, o.store);
      const { summary, error } = await executeReconciliation({ engine, store: o.store, reader: o.reader, shard, ...what, log: o.log }, runId);
      if (summary !== null && runId !== null && o.metrics !== undefined) countDrift(o.metrics, summary.drift);
      if (error !== undefined && runId === null) throw error;
      return summary;
    },
  };
}

/** The reconciler the configuration asks for (GRADESTREAM_CANVAS_URL and GRADESTREAM_CANVAS_TOKEN), or none. */
export function reconcilerFromConfig(
  config: Pick<Config, 'canvasUrl' | 'canvasToken' | 'canvasShard'>,
  deps: { store: StateStore; log?: Logger; registry?: Registry },
): Reconciler | undefined {
  if (config.canvasUrl === undefined || config.canvasToken === undefined) return undefined;
  const client = new CanvasClient({ baseUrl: config.canvasUrl, token: config.canvasToken, log: deps.log });
  return canvasReconciler({
    store: deps.store,
    reader: canvasReader(new CanvasApi(client), { onRejected: (course, what, item) => deps.log?.warn({ course, what, problem: item.problem }, 'Canvas record not read') }),
    origin: client.origin,
    shard: config.canvasShard,
    log: deps.log,
    metrics: deps.registry === undefined ? undefined : reconcileMetrics(deps.registry),
  });
}

/** Reconciliation schedules need Canvas: the problem to list at start when it is not configured. */
export function reconcileProblems(schedules: readonly Schedule[], config: Pick<Config, 'canvasUrl' | 'canvasToken'>): string[] {
  const ids = schedules.filter((s) => s.reconcile !== undefined).map((s) => s.id);
  if (ids.length === 0 || (config.canvasUrl !== undefined && config.canvasToken !== undefined)) return [];
  return [`schedule${ids.length === 1 ? '' : 's'} ${ids.join(', ')} reconcile${ids.length === 1 ? 's' : ''} with Canvas: set GRADESTREAM_CANVAS_URL and GRADESTREAM_CANVAS_TOKEN`];
}
