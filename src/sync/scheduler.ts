import { SyncEngine, type HeldView, type HistoryEntry, type ScheduleView, type SyncEngineOptions } from './engine.js';
import { nextRun, previousRun } from './next-run.js';
import type { ResendRecord, ResendSelector } from './store.js';
import { setOutcomes } from './metrics.js';
import { HELD_REASONS, type HeldReason } from './view.js';

export interface SchedulerOptions extends SyncEngineOptions {
  /** The longest sleep between checks of the clock (ms); default one minute. */
  maxSleepMs?: number;
}

/**
 * The clock of the sync engine. `start()` recovers pending batches and catches up (in the
 * background), then sleeps until the next occurrence of any schedule — at most a minute at a time, so
 * a clock that jumps or a laptop that sleeps is noticed — and runs each occurrence as it comes due
 * (recording it as skipped when the schedule is suspended). Occurrences before the start are left to
 * catch-up. Several replicas may run schedulers on one PostgreSQL store: each occurrence is claimed
 * once.
 */
export class Scheduler {
  private enginePromise: Promise<SyncEngine> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly handled = new Map<string, number>();
  private running = false;

  constructor(private readonly options: SchedulerOptions) {}

  /** The engine (opened on first use). */
  engine(): Promise<SyncEngine> {
    this.enginePromise ??= SyncEngine.open(this.options);
    return this.enginePromise;
  }

  private get clock(): () => number {
    return this.options.clock ?? Date.now;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const engine = await this.engine();
    this.running = true;
    const now = this.clock();
    for (const s of engine.schedules) this.handled.set(s.id, previousRun(s, now) ?? Number.NEGATIVE_INFINITY);
    engine.initMetrics();
    await engine.refreshGauges(now);
    await this.storeGauges(engine);
    this.track(
      (async () => {
        await engine.recoverPending();
        await engine.catchUp(now);
      })(),
      'recovery and catch-up on start',
    );
    this.arm();
  }

  /** Stops the timer, waits for runs in progress, and closes the engine (opened again on next use). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    const engine = this.enginePromise;
    this.enginePromise = undefined;
    await (await engine?.catch(() => undefined))?.close();
  }

  /** Resolves when every run started so far has finished (tests). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private track(work: Promise<unknown>, what: string, fields: Record<string, string> = {}): void {
    const p = work.catch((err: unknown) => this.options.logger?.error({ ...fields, err }, `${what} failed`));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private arm(): void {
    if (!this.running) return;
    const now = this.clock();
    const next = Math.min(...this.options.schedules.map((s) => nextRun(s, now)));
    const wait = Math.max(0, Math.min(this.options.maxSleepMs ?? 60_000, next - now));
    this.timer = setTimeout(() => this.wake(), wait);
  }

  private wake(): void {
    if (!this.running) return;
    void this.check().finally(() => this.arm());
  }

  /** Runs every occurrence that came due since the last check (public for tests and the service). */
  async check(now = this.clock()): Promise<void> {
    const engine = await this.engine();
    for (const s of engine.schedules) {
      const occurrence = previousRun(s, now);
      if (occurrence === null || occurrence <= (this.handled.get(s.id) ?? Number.NEGATIVE_INFINITY)) continue;
      this.handled.set(s.id, occurrence);
      this.track(engine.runOccurrence(s.id, occurrence, 'scheduled'), `run of ${s.id}`, { schedule: s.id });
    }
    // From the store, every check: another replica may have run, paused or held since.
    await Promise.all([engine.refreshGauges(now), this.storeGauges(engine)]).catch((err: unknown) =>
      this.options.logger?.warn({ err }, 'cannot refresh schedule gauges'),
    );
  }

  /**
   * Gauges read from the store — last success and held rows — so that every replica exports the same
   * values, not only the one that ran (on start, then at every check).
   */
  private async storeGauges(engine: SyncEngine): Promise<void> {
    const m = this.options.metrics;
    if (m === undefined) return;
    for (const s of engine.schedules) {
      setOutcomes(m, s.id, await engine.lastOutcomes(s.id));
      const held = await engine.heldCounts(s.id);
      for (const reason of HELD_REASONS) m.held.set({ schedule: s.id, reason }, held[reason]);
    }
  }

  // The engine's operations, for the service's HTTP API.
  async list(now?: number): Promise<ScheduleView[]> {
    return (await this.engine()).list(now);
  }
  async runNow(id: string, by: string, options: { dryRun?: boolean } = {}): Promise<HistoryEntry> {
    return (await this.engine()).runSchedule(id, { by, dryRun: options.dryRun });
  }
  /** Run now without waiting for the run (the admin page): its id once it is in the history; stop() waits for it. */
  async startRun(id: string, by: string): Promise<string> {
    const { runId, done } = await (await this.engine()).startRun(id, by);
    this.track(done, `manual run ${runId} of ${id}`, { run: runId, schedule: id });
    return runId;
  }
  async pause(id: string, by: string): Promise<ScheduleView> {
    return (await this.engine()).pause(id, by);
  }
  async resume(id: string, by: string): Promise<ScheduleView> {
    return (await this.engine()).resume(id, by);
  }
  async resend(request: { selector: ResendSelector; id?: string | null; by: string; target?: string }): Promise<ResendRecord[]> {
    return (await this.engine()).resend(request);
  }
  async runs(filter: { schedule?: string; limit: number; before?: string }): Promise<HistoryEntry[]> {
    return (await this.engine()).runs(filter);
  }
  async run(id: string): Promise<HistoryEntry | null> {
    return (await this.engine()).run(id);
  }
  async held(filter: { schedule?: string; reason?: HeldReason; limit: number }): Promise<HeldView[]> {
    return (await this.engine()).held(filter);
  }
}
