import { ConfigError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { openSink } from '../sinks/index.js';
import type { FeedFormat } from '../sinks/formats/format.js';
import type { Sink } from '../sinks/types.js';
import { parseSinkUrl, sinkTarget } from '../sinks/url.js';
import type { StateStore } from '../state/store.js';
import { computeDelta, scratchRunId } from './delta.js';
import { UnknownScheduleError } from './errors.js';
import { initScheduleMetrics, observeRun, type SyncMetrics } from './metrics.js';
import { nextRun, previousRun } from './next-run.js';
import { refreshHeld } from './held.js';
import { executeRun, recoverTarget, type RunContext, type RunPlan } from './run.js';
import { reconcileScope, type ReconcileWhat, type Schedule } from './schedules.js';
import {
  ALL_SCOPE,
  openSyncStore,
  type HeldEntry,
  type ResendRecord,
  type ResendSelector,
  type RunKind,
  type RunRecord,
  type RunStatus,
  type RunTrigger,
  type ScheduleStateRecord,
  type ScheduleStatus,
  type SyncStore,
  type TargetLease,
} from './store.js';
import { totalRows, zeroHeld, zeroRowsBy, type HeldCounts, type HeldReason, type RowsBy } from './view.js';

/**
 * The schedules at run time (SPEC §4): definitions from the schedules file, pause/resume state from
 * the store. `SyncEngine` is everything a command or an HTTP handler does (run now, pause, resume,
 * resend, history, held rows); `Scheduler` (scheduler.ts) adds the clock: it runs each due
 * occurrence, records skipped ones, and catches up once on start.
 *
 * For the service:
 *
 *     const scheduler = new Scheduler({ state, schedules, sinkUrl, metrics, logger });
 *     await scheduler.start();                 // recovery + catch-up in the background, then the timer
 *     await scheduler.list();                  // GET /api/schedules
 *     await scheduler.runNow(id, admin);       // POST /api/schedules/{id}/run
 *     await scheduler.pause(id, admin);        // POST /api/schedules/{id}/pause (resume alike)
 *     await scheduler.resend({ selector: 'course', id, by: admin });   // POST /api/resend
 *     await scheduler.runs({ limit: 50 });     // GET /api/runs;  scheduler.run(id): GET /api/runs/{id}
 *     await scheduler.held({ limit: 1000 });   // GET /api/held
 *     await scheduler.stop();                  // waits for runs in progress
 */

export interface SyncEngineOptions {
  state: StateStore;
  schedules: readonly Schedule[];
  /** The default sink (GRADESTREAM_SINK_URL), for schedules that name none. */
  sinkUrl: string;
  /** How a sink URL becomes a sink (tests inject HTTPS options); default openSink. */
  openSink?: (url: string) => Sink;
  metrics?: SyncMetrics;
  logger?: Logger;
  /** Epoch ms; default Date.now. */
  clock?: () => number;
  /** How long a run waits for another run to the same SIS target; default 15 minutes. */
  lockTimeoutMs?: number;
  /** Candidates examined per page; default 1000. */
  pageSize?: number;
  /** Runs the reconciliation schedules (src/reconcile/): none without Canvas configured. */
  reconciler?: Reconciler;
}

/**
 * What runs a reconciliation schedule's read (src/reconcile/schedule.ts): the run is in the history
 * already (`runId`; null for a dry run, recorded nowhere); it finishes the run, and answers what the
 * history keeps of it.
 */
export interface Reconciler {
  /** The runs' target: `canvas:ORIGIN`. */
  readonly target: string;
  execute(what: ReconcileWhat, runId: string | null, engine: SyncEngine): Promise<unknown>;
}

/** A schedule as listed (GET /api/schedules, `schedules list`). Times are ISO UTC. */
export interface ScheduleView {
  id: string;
  hourOfDay: number;
  timeZone: string;
  next_run: string;
  status: ScheduleStatus;
  postedBy: string;
  rootAccountId: string | null;
  /** A sync, or a reconciliation with Canvas (then `reconcile` says what it reads, and it has no format). */
  kind: RunKind;
  /** The SIS target (sink URL without credentials) and the feed format; for a reconciliation, `canvas:ORIGIN`. */
  target: string;
  format: FeedFormat | null;
  reconcile?: ReconcileWhat;
  /** Who last paused or resumed it, and when (null: never). */
  status_changed_by: string | null;
  status_changed_at: string | null;
}

/** A run as the history shows it (`runs list`, `sync`, GET /api/runs). Times are ISO UTC. */
export interface HistoryEntry {
  /** null for a dry run, which is not recorded. */
  id: string | null;
  /** A sync run, or a reconciliation with Canvas (then `reconcile` holds what it found and rows are 0). */
  kind: RunKind;
  schedule: string;
  trigger: RunTrigger;
  triggered_by: string;
  scheduled_for: string | null;
  started_at: string;
  finished_at: string | null;
  status: RunStatus | 'dry_run';
  /** Rows delivered and acknowledged (for a dry run: that would be sent). */
  rows: number;
  rows_by: RowsBy;
  held: HeldCounts;
  /** Where the batch was delivered: a file path, s3:// URL or https URL. */
  batch: string | null;
  batch_id: string | null;
  target: string;
  error: string | null;
  /** For a reconciliation: drift and courses (src/reconcile/history.ts). */
  reconcile?: unknown;
}

export interface HeldView extends Omit<HeldEntry, 'since' | 'changed_at'> {
  since: string;
  changed_at: string;
}

export interface RunOptions {
  /** Who asked (manual runs): recorded in the history. */
  by: string;
  /** Compute and report the delta only: nothing is delivered, written or recorded. */
  dryRun?: boolean;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function historyEntry(r: RunRecord): HistoryEntry {
  const rowsBy = r.rows_by ?? zeroRowsBy();
  return {
    id: r.id,
    kind: r.kind,
    schedule: r.schedule_id,
    trigger: r.trigger,
    triggered_by: r.triggered_by,
    scheduled_for: iso(r.scheduled_for),
    started_at: iso(r.started_at)!,
    finished_at: iso(r.finished_at),
    status: r.status,
    rows: totalRows(rowsBy),
    rows_by: rowsBy,
    held: r.held ?? zeroHeld(),
    batch: r.batch_location,
    batch_id: r.batch_id,
    target: r.target,
    error: r.error,
    ...(r.kind === 'reconcile' ? { reconcile: r.report } : {}),
  };
}

interface Resolved {
  schedule: Schedule;
  target: string;
  scope: string;
  plan: RunPlan;
}

const DEFAULT_LOCK_TIMEOUT_MS = 15 * 60_000;

/** A resend as `resend --json` and POST /api/resend show it: one request, a record per SIS target. */
export interface ResendView {
  selector: ResendSelector;
  id: string | null;
  requested_by: string;
  requested_at: string;
  targets: { target: string; resend_id: string; unacked: number }[];
}

export function resendView(request: { selector: ResendSelector; id?: string | null; by: string }, records: readonly ResendRecord[]): ResendView {
  return {
    selector: request.selector,
    id: request.id ?? null,
    requested_by: records[0]?.requested_by ?? request.by.trim(),
    requested_at: iso(records[0]?.requested_at ?? Date.now())!,
    targets: records.map((r) => ({ target: r.target, resend_id: r.resend_id, unacked: r.unacked })),
  };
}

export class SyncEngine {
  readonly schedules: readonly Schedule[];
  /** The schedules that deliver to an SIS target (not the reconciliations). */
  private readonly syncSchedules: readonly Schedule[];
  private readonly clock: () => number;
  private readonly sinks = new Map<string, Sink>();
  private readonly resolved = new Map<string, Resolved>();
  private readonly ctx: RunContext;

  private constructor(
    private readonly options: SyncEngineOptions,
    readonly sync: SyncStore,
  ) {
    this.schedules = options.schedules;
    this.syncSchedules = options.schedules.filter((s) => s.reconcile === undefined);
    this.clock = options.clock ?? Date.now;
    this.ctx = {
      state: options.state,
      sync,
      metrics: options.metrics,
      logger: options.logger,
      clock: this.clock,
      lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      pageSize: options.pageSize,
    };
    // Every schedule's sink is checked now, so a bad URL stops the start rather than a run at 2 am.
    const problems: string[] = [];
    for (const s of this.syncSchedules) {
      try {
        this.resolve(s);
      } catch (err) {
        problems.push(...(err instanceof ConfigError ? err.problems : [String(err)]));
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
  }

  static async open(options: SyncEngineOptions): Promise<SyncEngine> {
    return new SyncEngine(options, await openSyncStore(options.state));
  }

  /** Closes the sync store (before the state store it was opened on). */
  close(): Promise<void> {
    return this.sync.close();
  }

  /** The schedule with this id; UnknownScheduleError if the schedules file has none. */
  schedule(id: string): Schedule {
    const s = this.schedules.find((x) => x.id === id);
    if (s === undefined) throw new UnknownScheduleError(id, this.schedules.map((x) => x.id));
    return s;
  }

  private sinkFor(url: string): Sink {
    let sink = this.sinks.get(url);
    const log = this.options.logger;
    const open = this.options.openSink ?? ((u: string) => openSink(u, { https: { onRetry: (r) => log?.warn(r, 'SIS delivery attempt failed; retrying') } }));
    if (sink === undefined) this.sinks.set(url, (sink = open(url)));
    return sink;
  }

  private resolve(s: Schedule): Resolved {
    if (s.reconcile !== undefined) throw new UsageError(`schedule ${JSON.stringify(s.id)} is a reconciliation with Canvas: it delivers nothing`);
    let r = this.resolved.get(s.id);
    if (r !== undefined) return r;
    const url = s.sink ?? this.options.sinkUrl;
    const location = parseSinkUrl(url);
    if ('problem' in location) throw new ConfigError([`schedule ${JSON.stringify(s.id)}: sink URL: ${location.problem}`]);
    const scope = s.rootAccountId ?? ALL_SCOPE;
    r = {
      schedule: s,
      target: sinkTarget(location),
      scope,
      plan: { scheduleId: s.id, scope, format: s.format, sink: this.sinkFor(url), sinkKind: location.kind },
    };
    this.resolved.set(s.id, r);
    return r;
  }

  /** The SIS target a schedule delivers to. */
  targetOf(id: string): string {
    return this.resolve(this.schedule(id)).target;
  }

  /** Every SIS target the schedules deliver to, sorted: the order their locks are taken in. */
  targets(): string[] {
    return [...new Set(this.syncSchedules.map((s) => this.resolve(s).target))].sort();
  }

  /**
   * Holds the lock of every SIS target (in order, so that it cannot deadlock with a run, which holds
   * one) until the release it resolves to: what is done meanwhile never overlaps a sync to any of them.
   */
  async exclusive(holder: string): Promise<() => Promise<void>> {
    const leases: TargetLease[] = [];
    try {
      for (const target of this.targets()) leases.push(await this.sync.lockTarget(target, { timeoutMs: this.ctx.lockTimeoutMs, holder }));
    } catch (err) {
      await Promise.allSettled(leases.map((l) => l.release()));
      throw err;
    }
    return async () => {
      await Promise.allSettled(leases.map((l) => l.release()));
    };
  }

  private async states(): Promise<Map<string, ScheduleStateRecord>> {
    return new Map((await this.sync.scheduleStates()).map((s) => [s.schedule_id, s]));
  }

  private view(s: Schedule, state: ScheduleStateRecord | undefined, now: number): ScheduleView {
    const common = {
      id: s.id,
      hourOfDay: s.hourOfDay,
      timeZone: s.timeZone,
      next_run: iso(nextRun(s, now))!,
      status: state?.status ?? 'enabled',
      postedBy: s.postedBy,
      rootAccountId: s.rootAccountId ?? null,
    };
    const changed = { status_changed_by: state?.changed_by ?? null, status_changed_at: iso(state?.changed_at ?? null) };
    if (s.reconcile !== undefined) return { ...common, kind: 'reconcile', target: this.reconcileTarget(), format: null, reconcile: s.reconcile, ...changed };
    return { ...common, kind: 'sync', target: this.resolve(s).target, format: s.format, ...changed };
  }

  private reconcileTarget(): string {
    return this.options.reconciler?.target ?? 'canvas:';
  }

  /** Where a schedule's runs go in the history: its SIS target and scope, or Canvas and what it reads. */
  private runTarget(s: Schedule): { kind: RunKind; target: string; scope: string } {
    if (s.reconcile === undefined) {
      const r = this.resolve(s);
      return { kind: 'sync', target: r.target, scope: r.scope };
    }
    return { kind: 'reconcile', target: this.reconcileTarget(), scope: reconcileScope(s.reconcile) };
  }

  async list(now = this.clock()): Promise<ScheduleView[]> {
    const states = await this.states();
    return this.schedules.map((s) => this.view(s, states.get(s.id), now));
  }

  /** Every schedule's series at 0 (and its sink kind's error counter), before the store fills them in. */
  initMetrics(): void {
    const m = this.options.metrics;
    if (m === undefined) return;
    const kinds = this.syncSchedules.map((s) => this.resolve(s).plan.sinkKind);
    initScheduleMetrics(m, this.schedules.map((s) => s.id), [...new Set(kinds)].sort());
  }

  /** When the schedule last succeeded and last failed (ms; null: never), from the history. */
  lastOutcomes(id: string): Promise<{ succeeded: number | null; failed: number | null }> {
    return this.sync.lastOutcomes(this.schedule(id).id);
  }

  /** Updates the schedule gauges (next run, suspended). */
  async refreshGauges(now = this.clock()): Promise<void> {
    const m = this.options.metrics;
    if (m === undefined) return;
    const states = await this.states();
    for (const s of this.schedules) {
      m.nextRun.set({ schedule: s.id }, nextRun(s, now) / 1000);
      m.suspended.set({ schedule: s.id }, states.get(s.id)?.status === 'suspended' ? 1 : 0);
    }
  }

  private async setStatus(id: string, status: ScheduleStatus, by: string): Promise<ScheduleView> {
    const s = this.schedule(id);
    const who = requireWho(by);
    const states = await this.states();
    let state = states.get(id);
    // Pausing a paused schedule (or resuming an enabled one) changes nothing, and records nothing.
    if ((state?.status ?? 'enabled') !== status) {
      state = { schedule_id: id, status, changed_by: who, changed_at: this.clock() };
      await this.sync.setScheduleStatus(state);
      this.options.logger?.info({ schedule: id, status, by: who }, status === 'suspended' ? 'schedule paused' : 'schedule resumed');
    }
    this.options.metrics?.suspended.set({ schedule: id }, status === 'suspended' ? 1 : 0);
    return this.view(s, state, this.clock());
  }

  /** Suspends automatic runs: each occurrence is recorded as skipped; changes keep accumulating. */
  pause(id: string, by: string): Promise<ScheduleView> {
    return this.setStatus(id, 'suspended', by);
  }

  /** Lets the next occurrence run, carrying everything accumulated; missed occurrences are not run. */
  resume(id: string, by: string): Promise<ScheduleView> {
    return this.setStatus(id, 'enabled', by);
  }

  /** Run now (SPEC §4): whatever the status; recorded with who asked (trigger manual). */
  async runSchedule(id: string, options: RunOptions): Promise<HistoryEntry> {
    const s = this.schedule(id);
    if (options.dryRun) return s.reconcile === undefined ? this.dryRun(this.resolve(s), requireWho(options.by)) : this.reconcileDryRun(s, requireWho(options.by));
    return (await this.startRun(id, options.by)).done;
  }

  /** Run now, once its history entry exists: its id, and the run going on (`done`). */
  async startRun(id: string, by: string): Promise<{ runId: string; done: Promise<HistoryEntry> }> {
    const s = this.schedule(id);
    const who = requireWho(by);
    const runId = await this.sync.insertRun({
      ...this.runTarget(s),
      schedule_id: id,
      trigger: 'manual',
      triggered_by: who,
      scheduled_for: null,
      started_at: this.clock(),
      status: 'running',
    });
    return { runId: runId!, done: this.execute(s, runId!) };
  }

  private async execute(s: Schedule, runId: string): Promise<HistoryEntry> {
    if (s.reconcile === undefined) {
      const r = this.resolve(s);
      await executeRun(this.ctx, r.plan, runId, r.target);
    } else if (this.options.reconciler === undefined) {
      const error = 'Canvas is not configured: set GRADESTREAM_CANVAS_URL and GRADESTREAM_CANVAS_TOKEN';
      await this.sync.finishRun(runId, { status: 'failed', finished_at: this.clock(), error });
    } else {
      await this.options.reconciler.execute(s.reconcile, runId, this).catch(async (err: unknown) => {
        // What the reconciler could not record itself.
        await this.sync.finishRun(runId, { status: 'failed', finished_at: this.clock(), error: err instanceof Error ? err.message : String(err) });
      });
    }
    const run = await this.sync.getRun(runId);
    if (run === null) throw new Error(`run ${runId} vanished from the history`);
    const entry = historyEntry(run);
    if (this.options.metrics !== undefined) {
      observeRun(this.options.metrics, {
        schedule: run.schedule_id,
        trigger: run.trigger,
        status: run.status,
        rows_by: entry.rows_by,
        held: run.held,
        finished_at: run.finished_at,
        duration_seconds: run.finished_at === null ? null : (run.finished_at - run.started_at) / 1000,
      });
    }
    const log = this.options.logger;
    // The one log line of a run's outcome: a failure is an error an operator can search by run,
    // schedule and target (the detail with its stack is at debug, from where it was caught).
    const fields = { run: run.id, schedule: run.schedule_id, kind: run.kind, trigger: run.trigger, target: run.target };
    if (run.status === 'succeeded') log?.info({ ...fields, rows: entry.rows, batch: entry.batch }, `${run.kind} run succeeded`);
    else if (run.status === 'failed') log?.error({ ...fields, error: run.error }, `${run.kind} run failed`);
    else log?.info({ ...fields, status: run.status }, `${run.kind} run ${run.status}`);
    return entry;
  }

  /** A reconciliation's dry run: read and compared, nothing folded or recorded. */
  private async reconcileDryRun(s: Schedule, who: string): Promise<HistoryEntry> {
    const startedAt = this.clock();
    if (this.options.reconciler === undefined) throw new UsageError('Canvas is not configured: set GRADESTREAM_CANVAS_URL and GRADESTREAM_CANVAS_TOKEN');
    const report = await this.options.reconciler.execute(s.reconcile!, null, this);
    return { ...this.dryRunEntry(s, 'reconcile', who, startedAt, zeroRowsBy(), zeroHeld()), reconcile: report };
  }

  /** A dry run as a history entry: recorded nowhere (no id), what it found in `rows_by` and `held`. */
  private dryRunEntry(s: Schedule, kind: RunKind, who: string, startedAt: number, rowsBy: RowsBy, held: HeldCounts): HistoryEntry {
    return {
      id: null,
      kind,
      schedule: s.id,
      trigger: 'manual',
      triggered_by: who,
      scheduled_for: null,
      started_at: iso(startedAt)!,
      finished_at: iso(this.clock())!,
      status: 'dry_run',
      rows: totalRows(rowsBy),
      rows_by: rowsBy,
      held,
      batch: null,
      batch_id: null,
      target: this.runTarget(s).target,
      error: null,
    };
  }

  private async dryRun(r: Resolved, who: string): Promise<HistoryEntry> {
    const startedAt = this.clock();
    const runId = scratchRunId();
    const watermark = await this.options.state.changeWatermark();
    const { watermark: from } = await this.sync.cursor(r.target, r.scope);
    const queueMark = await this.sync.queueMark(r.target);
    const summary = await computeDelta(
      this.sync,
      { runId, target: r.target, scope: r.scope, from, to: watermark, queueMark, pageSize: this.options.pageSize },
      { page: async () => undefined },
    );
    return this.dryRunEntry(r.schedule, 'sync', who, startedAt, summary.rows_by, summary.held);
  }

  /**
   * One occurrence of a schedule, claimed first (several replicas may try; one wins): enabled, it runs
   * with `trigger`, triggered by the schedule's postedBy; suspended, it is recorded as skipped.
   * Null when the occurrence was already claimed.
   */
  async runOccurrence(id: string, occurrence: number, trigger: 'scheduled' | 'catch_up'): Promise<HistoryEntry | null> {
    const s = this.schedule(id);
    const status = (await this.states()).get(id)?.status ?? 'enabled';
    const now = this.clock();
    const base = {
      ...this.runTarget(s),
      schedule_id: id,
      triggered_by: s.postedBy,
      scheduled_for: occurrence,
      started_at: now,
    };
    if (status === 'suspended') {
      const runId = await this.sync.insertRun({ ...base, trigger: 'scheduled', status: 'skipped', finished_at: now });
      if (runId === null) return null;
      this.options.metrics?.runs.inc({ schedule: id, trigger: 'scheduled', status: 'skipped' });
      this.options.logger?.info({ schedule: id, occurrence: iso(occurrence) }, 'schedule suspended: occurrence skipped');
      return historyEntry((await this.sync.getRun(runId))!);
    }
    const runId = await this.sync.insertRun({ ...base, trigger, status: 'running' });
    if (runId === null) return null;
    return this.execute(s, runId);
  }

  /**
   * Every schedule's latest occurrence at or before `now` that nobody has claimed yet: run, or
   * recorded as skipped. What the scheduler's timer does; `gradestream schedules tick` runs it once.
   */
  async tick(now = this.clock()): Promise<HistoryEntry[]> {
    const results = await Promise.all(
      this.schedules.map((s) => {
        const occurrence = previousRun(s, now);
        return occurrence === null ? null : this.runOccurrence(s.id, occurrence, 'scheduled');
      }),
    );
    return results.filter((e): e is HistoryEntry => e !== null);
  }

  /**
   * Catch-up on start (SPEC §4): an enabled schedule whose latest occurrence before `now` has no run
   * — the service was down — and no run since, runs once with trigger catch_up, however many days
   * were missed. Not when it was suspended at that occurrence (resuming does not run missed
   * occurrences), and not for a schedule that has never run (a new schedule first runs at its next
   * occurrence; "run now" is there for an immediate sync). A schedule suspended since before its latest
   * occurrence has it recorded as skipped, as it would have been had the service been up (once: the
   * latest, like catch-up).
   */
  async catchUp(now = this.clock()): Promise<HistoryEntry[]> {
    const states = await this.states();
    const results: HistoryEntry[] = [];
    for (const s of this.schedules) {
      const occurrence = previousRun(s, now);
      if (occurrence === null) continue;
      const state = states.get(s.id);
      if (state?.status === 'suspended' && state.changed_at <= occurrence) {
        const skipped = await this.runOccurrence(s.id, occurrence, 'catch_up'); // null: recorded already
        if (skipped !== null) results.push(skipped);
        continue;
      }
      if (state !== undefined && (state.status === 'suspended' || state.changed_at > occurrence)) continue;
      if (!(await this.sync.hasRun(s.id))) continue;
      if (await this.sync.hasRun(s.id, occurrence)) continue;
      const entry = await this.runOccurrence(s.id, occurrence, 'catch_up');
      if (entry !== null) results.push(entry);
    }
    return results;
  }

  /** Delivers again, and acknowledges, batches that runs interrupted by a crash left pending. */
  async recoverPending(): Promise<void> {
    const byTarget = new Map<string, Resolved>();
    for (const s of this.syncSchedules) {
      const r = this.resolve(s);
      if (!byTarget.has(r.target)) byTarget.set(r.target, r);
    }
    for (const [target, r] of byTarget) {
      if ((await this.sync.batches(target, ['building', 'pending'])).length === 0) continue;
      const lease = await this.sync.lockTarget(target, { timeoutMs: this.ctx.lockTimeoutMs, holder: `recovery (pid ${process.pid})` });
      try {
        await recoverTarget(this.ctx, lease, r.plan, null);
      } finally {
        await lease.release();
      }
    }
  }

  /**
   * Resend (SPEC §4): forget what the target acknowledged for a course, an assignment or everything,
   * so the next run sends the current view of those keys again. Held rows stay held. `target`: one
   * SIS target; default every target the schedules deliver to.
   */
  async resend(request: { selector: ResendSelector; id?: string | null; by: string; target?: string }): Promise<ResendRecord[]> {
    const who = requireWho(request.by);
    if ((request.selector === 'all') !== (request.id === undefined || request.id === null)) {
      throw new UsageError(request.selector === 'all' ? 'resend all takes no id' : `resend ${request.selector} needs an id`);
    }
    if (request.id != null && !/^(0|[1-9][0-9]{0,18})$/.test(request.id)) {
      throw new UsageError(`${JSON.stringify(request.id)} is not a canonical (global) ${request.selector} id`);
    }
    const targets = request.target !== undefined ? [request.target] : this.targets();
    const records: ResendRecord[] = [];
    for (const target of targets) {
      records.push(
        await this.sync.resend({ target, selector: request.selector, id: request.id ?? null, requested_by: who, requested_at: this.clock() }),
      );
    }
    this.options.logger?.info({ selector: request.selector, id: request.id ?? null, by: who, targets }, 'resend requested');
    return records;
  }

  /** The history, newest first; a schedule's runs stay readable after it is removed from the file. */
  async runs(filter: { schedule?: string; limit: number; before?: string }): Promise<HistoryEntry[]> {
    return (await this.sync.listRuns({ schedule_id: filter.schedule, limit: filter.limit, before: filter.before })).map(historyEntry);
  }

  async run(id: string): Promise<HistoryEntry | null> {
    const r = await this.sync.getRun(id);
    return r === null ? null : historyEntry(r);
  }

  /**
   * Held rows: of one schedule (its target and scope), or of every target; brought up to date first
   * (refreshHeld), except for a target a run is delivering to, which is left as the run leaves it.
   */
  async held(filter: { schedule?: string; reason?: HeldReason; limit: number }): Promise<HeldView[]> {
    const r = filter.schedule === undefined ? undefined : this.resolve(this.schedule(filter.schedule));
    // A target with an unscoped schedule is refreshed whole, once; else each of its scopes.
    const wanted = r === undefined ? this.syncSchedules.map((s) => this.resolve(s)) : [r];
    const scopes = new Map<string, Set<string>>();
    for (const w of wanted) scopes.set(w.target, (scopes.get(w.target) ?? new Set()).add(w.scope));
    for (const [target, set] of scopes) {
      for (const scope of set.has(ALL_SCOPE) ? [ALL_SCOPE] : set) {
        await refreshHeld(this.options.state, this.sync, target, scope, { clock: this.clock, pageSize: this.options.pageSize });
      }
    }
    const rows = await this.sync.listHeld({ target: r?.target, scope: r?.scope, reason: filter.reason, limit: filter.limit });
    return rows.map((h) => ({ ...h, since: iso(h.since)!, changed_at: iso(h.changed_at)! }));
  }

  /** Held rows by reason in a schedule's target and scope (none for a reconciliation). */
  async heldCounts(id: string): Promise<HeldCounts> {
    const s = this.schedule(id);
    if (s.reconcile !== undefined) return zeroHeld();
    const r = this.resolve(s);
    return this.sync.heldCounts(r.target, r.scope);
  }
}

function requireWho(by: string): string {
  const who = by.trim();
  if (who === '') throw new UsageError('--as: say who is asking (a name for the history)');
  return who;
}
