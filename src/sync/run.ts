import { InternalError } from '../errors.js';
import type { Logger } from '../log.js';
import { SinkRejectedError } from '../sinks/errors.js';
import { feedEncoder, PIECE_BYTES, type FeedEncoder } from '../sinks/formats/encoder.js';
import { batchFileName, CONTENT_TYPES, type FeedFormat } from '../sinks/formats/format.js';
import { replayable, type Sink } from '../sinks/types.js';
import type { StateStore } from '../state/store.js';
import { computeDelta, DEFAULT_PAGE_SIZE, type DeltaSummary } from './delta.js';
import type { SyncMetrics } from './metrics.js';
import type { BatchRecord, BatchRow, SyncStore, TargetLease } from './store.js';
import { zeroRowsBy } from './view.js';

/**
 * One run to one SIS target (SPEC §5): take the target's lock; finish what a crashed run left (a
 * pending batch is delivered again with the same id and bytes, then acknowledged); compute the delta,
 * persisting the batch (its file, encoded as the rows come in file order, and its rows' ledger
 * entries) as it goes; deliver; then, in one transaction, acknowledge exactly the batch's rows,
 * move the cursor and finish the run. A failed delivery acknowledges nothing and abandons the batch:
 * the next run sends those rows again, in a new batch.
 */

export interface RunContext {
  state: StateStore;
  sync: SyncStore;
  metrics?: SyncMetrics;
  logger?: Logger;
  clock: () => number;
  /** How long a run waits for another run to the same target to finish. */
  lockTimeoutMs: number;
  pageSize?: number;
}

/** What a run delivers, and where. */
export interface RunPlan {
  scheduleId: string;
  /** A root account id, or ALL_SCOPE. */
  scope: string;
  format: FeedFormat;
  sink: Sink;
  /** The sink's kind, for the sink_errors_total label (never the URL). */
  sinkKind: string;
}

/**
 * TEST ONLY: GRADESTREAM_TEST_CRASH_POINT=after_persist|after_deliver kills the process with SIGKILL
 * at that point of a run (after the batch is persisted / after it is delivered, before the ack), so
 * tests can prove that a crash there delivers the same batch again and acknowledges nothing twice.
 * Never set it in production.
 */
export type CrashPoint = 'after_persist' | 'after_deliver';

function crashPoint(point: CrashPoint): void {
  if (process.env['GRADESTREAM_TEST_CRASH_POINT'] === point) process.kill(process.pid, 'SIGKILL');
}

/** Batch ids: UTC time, schedule and run, e.g. 20260308T090000Z-nightly-r42 (safe in names, keys, headers). */
export function batchIdFor(scheduleId: string, runId: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${scheduleId}-r${runId}`;
}

/** The persisted file of a batch, a piece at a time (memory stays flat), the very bytes built. */
async function* storedFile(sync: SyncStore, batchId: string): AsyncGenerator<Uint8Array> {
  for (let n = 1; ; n++) {
    const piece = await sync.batchChunk(batchId, n);
    if (piece === null) return;
    yield piece;
  }
}

/**
 * The batch's persisted part, as the delta comes: each page's ledger entries, and the file's bytes as
 * they fill a piece (rows come in file order, so the file is encoded as they come).
 */
class BatchWriter {
  private readonly encoder: FeedEncoder;
  private rows = 0;
  private pieces = 0;

  constructor(
    private readonly sync: SyncStore,
    private readonly batchId: string,
    format: FeedFormat,
    /** The names of assignments (OneRoster's titles), read once the rows are all in. */
    private readonly names: (ids: readonly string[]) => Promise<ReadonlyMap<string, string>>,
  ) {
    this.encoder = feedEncoder(format);
  }

  /** The last write, still going while the delta goes on (PostgreSQL); at most one at a time. */
  private writing: Promise<void> = Promise.resolve();

  async add(rows: readonly BatchRow[]): Promise<void> {
    for (const r of rows) this.encoder.push(r.row);
    const bytes = this.encoder.take(PIECE_BYTES);
    await this.append(rows, bytes);
  }

  private async append(rows: readonly BatchRow[], bytes: Uint8Array | null): Promise<void> {
    const first = this.rows + 1;
    this.rows += rows.length;
    const chunk = bytes === null ? null : { n: ++this.pieces, bytes };
    await this.writing; // a failed write stops the run here
    this.writing = this.sync.appendBatch(this.batchId, first, rows, chunk);
    this.writing.catch(() => undefined); // awaited by the next write, finish() or settled()
  }

  /** The rest of the file (a CSV header, a whole OneRoster zip), in pieces; then every write is done. */
  async finish(): Promise<void> {
    const titled = this.encoder.titled?.() ?? [];
    if (titled.length > 0) this.encoder.titles?.(await this.names(titled));
    const rest = this.encoder.end();
    for (let at = 0; at < rest.length; at += PIECE_BYTES) await this.append([], rest.subarray(at, at + PIECE_BYTES));
    await this.writing;
  }

  /** Waits for the write in progress, whatever its outcome (before the batch is abandoned). */
  async settled(): Promise<void> {
    await this.writing.catch(() => undefined);
  }
}

/** The sink failed (as opposed to the store, before or after): the batch was not taken. */
class DeliveryFailed extends Error {
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason), { cause: reason });
  }
}

/** The SIS refused the batch (4xx, an unwritable directory): it took none of it. */
const refused = (err: unknown): boolean => err instanceof DeliveryFailed && err.reason instanceof SinkRejectedError;

/** Delivers a persisted batch (its own format and id), then acknowledges it; returns its location. */
async function deliverAndAck(ctx: RunContext, lease: TargetLease, plan: RunPlan, batch: BatchRecord, crashes: boolean): Promise<string> {
  let location: string;
  try {
    const file = {
      name: batchFileName(batch.id, batch.format),
      contentType: CONTENT_TYPES[batch.format],
      bytes: replayable(() => storedFile(ctx.sync, batch.id)),
    };
    location = (await plan.sink.deliver({ id: batch.id, files: [file] })).location;
  } catch (err) {
    ctx.metrics?.sinkErrors.inc({ sink: plan.sinkKind });
    throw new DeliveryFailed(err);
  }
  if (crashes) crashPoint('after_deliver');
  await ctx.sync.ackBatch(lease, batch.id, location, ctx.clock());
  return location;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!;

/**
 * Finishes what runs to this target left behind, under its lock: batches still being built are
 * abandoned; pending batches (persisted, maybe delivered, not acknowledged) are delivered again with
 * the same id and acknowledged, which completes their runs; runs that held the lock and are still
 * "running" died and are marked failed. A pending batch the SIS refuses (4xx) is abandoned like any
 * failed delivery; any other failure stops here, leaving it pending for the next attempt.
 */
export async function recoverTarget(ctx: RunContext, lease: TargetLease, plan: RunPlan, currentRunId: string | null): Promise<void> {
  const target = lease.target;
  for (const b of await ctx.sync.batches(target, ['building'])) {
    await ctx.sync.abandonBatch(b.id, ctx.clock());
    await finishIfRunning(ctx, b.run_id, 'interrupted while its batch was being built; its rows go out with the next run');
  }
  for (const b of await ctx.sync.batches(target, ['pending'])) {
    ctx.logger?.warn({ batch: b.id, target }, 'delivering a batch left pending by an interrupted run again, with the same id');
    try {
      await deliverAndAck(ctx, lease, plan, b, false);
    } catch (err) {
      if (!refused(err)) {
        throw new Error(`batch ${b.id}, left pending by an interrupted run, could not be delivered again: ${message(err)}`, {
          cause: err,
        });
      }
      // Its first delivery, before the process died, may have reached the SIS.
      await ctx.sync.abandonBatch(b.id, ctx.clock(), { maybeDelivered: true });
      await finishIfRunning(ctx, b.run_id, message(err));
    }
  }
  const now = ctx.clock();
  for (const r of await ctx.sync.runningRuns(target)) {
    if (r.id === currentRunId) continue;
    // A run that took the lock is not running any more (we hold it now). One still waiting for the
    // lock gives up after lockTimeoutMs; one "waiting" far longer than that died waiting.
    if (r.locked_at !== null || r.started_at < now - ctx.lockTimeoutMs - 60_000) {
      await ctx.sync.finishRun(r.id, { status: 'failed', finished_at: now, error: 'interrupted: the process running it stopped' });
    }
  }
}

async function finishIfRunning(ctx: RunContext, runId: string, error: string): Promise<void> {
  const run = await ctx.sync.getRun(runId);
  if (run?.status === 'running') await ctx.sync.finishRun(runId, { status: 'failed', finished_at: ctx.clock(), error });
}

/**
 * Runs an already-recorded run (status running) to the end and finishes its history entry, whatever
 * happens: a failure is recorded (status failed, the error's message) rather than thrown, except when
 * the store itself cannot be written.
 */
export async function executeRun(ctx: RunContext, plan: RunPlan, runId: string, target: string): Promise<void> {
  let lease: TargetLease;
  try {
    lease = await ctx.sync.lockTarget(target, { timeoutMs: ctx.lockTimeoutMs, holder: `run ${runId} (pid ${process.pid})` });
  } catch (err) {
    await ctx.sync.finishRun(runId, { status: 'failed', finished_at: ctx.clock(), error: message(err), rows_by: zeroRowsBy() });
    return;
  }
  let batchId: string | null = null;
  let writer: BatchWriter | null = null;
  let summary: DeltaSummary | null = null;
  try {
    await ctx.sync.markLocked(runId, ctx.clock());
    await recoverTarget(ctx, lease, plan, runId);

    const watermark = await ctx.state.changeWatermark();
    const { watermark: from, epoch } = await ctx.sync.cursor(target, plan.scope);
    const queueMark = await ctx.sync.queueMark(target);
    const createdAt = ctx.clock();
    batchId = batchIdFor(plan.scheduleId, runId, createdAt);
    await ctx.sync.createBatch({
      id: batchId,
      target,
      run_id: runId,
      schedule_id: plan.scheduleId,
      scope: plan.scope,
      format: plan.format,
      watermark,
      epoch,
      queue_mark: queueMark,
      created_at: createdAt,
    });
    const building = (writer = new BatchWriter(ctx.sync, batchId, plan.format, (ids) => ctx.state.assignmentNames(ids)));
    summary = await computeDelta(
      ctx.sync,
      { runId, target, scope: plan.scope, from, to: watermark, queueMark, pageSize: ctx.pageSize ?? DEFAULT_PAGE_SIZE },
      {
        page: async (rows, holds, releases) => {
          if (rows.length > 0) await building.add(rows);
          if (holds.length > 0 || releases.length > 0) await ctx.sync.writeHeld(target, holds, releases, ctx.clock());
        },
      },
    );
    await building.finish();
    await ctx.sync.sealBatch(batchId, summary);
    crashPoint('after_persist');

    const batch = await ctx.sync.getBatch(batchId);
    if (batch === null) throw new InternalError(`batch ${batchId} vanished`);
    await deliverAndAck(ctx, lease, plan, batch, true);
  } catch (err) {
    ctx.logger?.debug({ err, run: runId, schedule: plan.scheduleId, target }, 'sync run failed: detail');
    if (batchId !== null) {
      await writer?.settled(); // nothing of the batch is written after it is abandoned
      const batch = await ctx.sync.getBatch(batchId);
      if (batch?.status === 'acked') return; // acknowledged after all: the run is finished
      // A batch not complete, or refused by the sink, is abandoned: its rows go out with the next run.
      // One whose acknowledgement failed stays pending: it may have been delivered, so the next run
      // delivers it again with the same id before anything else.
      // (That run then completes this one's history entry: succeeded.)
      if (batch?.status === 'building' || (batch?.status === 'pending' && err instanceof DeliveryFailed)) {
        // Any failure to deliver but a refusal (a timeout, a 5xx after retries) may have come after
        // the SIS applied the batch.
        const maybeDelivered = err instanceof DeliveryFailed && !refused(err);
        await ctx.sync.abandonBatch(batchId, ctx.clock(), { maybeDelivered });
      }
    }
    await ctx.sync.finishRun(runId, {
      status: 'failed',
      finished_at: ctx.clock(),
      error: message(err),
      rows_by: zeroRowsBy(),
      held: summary?.held ?? null,
    });
  } finally {
    await lease.release();
  }
}
