import { connectionOf } from '../state/connection.js';
import type { StateStore } from '../state/store.js';
import type { FeedFormat } from '../sinks/formats/format.js';
import type { FeedRow } from './feed-row.js';
import type { Candidate, HeldCounts, HeldReason, RecordType, RowsBy, SyncKey } from './view.js';

/**
 * What the sync engine keeps (SPEC §3–§5), in the state store's own database, beside the fold's
 * tables (migration 2 of each backend):
 *
 * - schedule_state — pause/resume per schedule id (no row: enabled); survives restarts.
 * - sync_runs — the history. An automatic run (scheduled, catch_up, or a skipped occurrence) is
 *   claimed by inserting its (schedule, occurrence): UNIQUE, so among several replicas the first
 *   insert wins and every occurrence runs or is skipped exactly once.
 * - sync_batches + sync_batch_chunks + sync_batch_keys — a batch is written BEFORE delivery: its
 *   file's bytes, in pieces, and the ledger entry (key, digest, op) of each of its rows. After a crash
 *   the same batch (same id, the very same bytes) is delivered again, and its rows, and only those, are
 *   acknowledged (migration 3; before it, batches kept feed rows and were encoded at delivery).
 * - sync_acked — the acknowledged-view ledger, per SIS target (not per schedule): the digest and op of
 *   what the target holds for each key. A blank digest (a resend; a batch abandoned after it may
 *   have been delivered) means "held, values unknown": the key goes again.
 * - sync_cursor — per (target, scope): the change number up to which changes were examined; scope
 *   `held:SCOPE` is how far held refreshes of that scope examined (src/sync/held.ts).
 * - sync_held — rows with a pending change that is not visible, with the reason and since when.
 * - sync_resend + sync_queue — resend requests, and the keys they put back in line.
 * - sync_targets — per target, the count of `resend --all` requests (cursor resets).
 * - sync_view — scratch: the keys one run examines, with their state, in file order (on SQLite a
 *   TEMP table of the connection).
 * - sync_locks (SQLite only) — the lease that keeps runs to one target apart; PostgreSQL uses an
 *   advisory lock held on a connection of its own.
 *
 * Times are epoch milliseconds; ids decimal strings.
 */

export type ScheduleStatus = 'enabled' | 'suspended';
export type RunTrigger = 'scheduled' | 'manual' | 'catch_up';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'skipped';
export type BatchStatus = 'building' | 'pending' | 'acked' | 'abandoned';

/** A scope: a root account id, or ALL_SCOPE for a schedule without rootAccountId. */
export const ALL_SCOPE = '*';

export interface ScheduleStateRecord {
  schedule_id: string;
  status: ScheduleStatus;
  changed_by: string;
  changed_at: number;
}

export type RunKind = 'sync' | 'reconcile';

export interface NewRun {
  /** Default 'sync'. A reconciliation's target is `canvas:URL` and its scope what it read. */
  kind?: RunKind;
  schedule_id: string;
  trigger: RunTrigger;
  triggered_by: string;
  /** The occurrence, for automatic runs; null for manual ones (never conflicts). */
  scheduled_for: number | null;
  started_at: number;
  status: 'running' | 'skipped';
  /** Set for skipped runs, which finish as they start. */
  finished_at?: number;
  target: string;
  scope: string;
}

export interface RunRecord {
  id: string;
  kind: RunKind;
  schedule_id: string;
  trigger: RunTrigger;
  triggered_by: string;
  scheduled_for: number | null;
  started_at: number;
  locked_at: number | null;
  finished_at: number | null;
  status: RunStatus;
  target: string;
  scope: string;
  batch_id: string | null;
  batch_location: string | null;
  rows_by: RowsBy | null;
  held: HeldCounts | null;
  error: string | null;
  /** What a reconciliation found (src/reconcile/): null for a sync. */
  report: unknown;
}

export interface RunFinish {
  status: 'succeeded' | 'failed';
  finished_at: number;
  error?: string | null;
  batch_id?: string | null;
  batch_location?: string | null;
  rows_by?: RowsBy | null;
  held?: HeldCounts | null;
  report?: unknown;
}

export interface NewBatch {
  id: string;
  target: string;
  run_id: string;
  schedule_id: string;
  scope: string;
  format: FeedFormat;
  /** The change watermark read at the start: the cursor moves here on ack. */
  watermark: string;
  /** sync_targets.epoch read at the start: a resend --all since then keeps the cursor where it put it. */
  epoch: string;
  /** The highest resend-queue id examined; those entries (in scope) are done on ack. */
  queue_mark: string;
  created_at: number;
}

export interface BatchRecord extends NewBatch {
  status: BatchStatus;
  row_count: number | null;
  rows_by: RowsBy | null;
  held: HeldCounts | null;
  location: string | null;
  finished_at: number | null;
}

/** A feed row of a batch, with its key and view digest (what the ledger takes on ack). */
export interface BatchRow {
  key: SyncKey;
  digest: string;
  row: FeedRow;
}

/** A piece of a batch's file, as persisted before delivery. */
export interface BatchChunk {
  n: number;
  bytes: Uint8Array;
}

/** A held row as written by a run. */
export interface HeldWrite {
  key: SyncKey;
  reason: HeldReason;
  course_id: string | null;
  root_account_id: string | null;
  /** The instant of the record whose change is held. */
  changed_at: number;
}

export interface HeldEntry {
  target: string;
  record_type: RecordType;
  course_id: string | null;
  student_id: string;
  assignment_id: string | null;
  grading_period_id: string | null;
  root_account_id: string | null;
  reason: HeldReason;
  since: number;
  changed_at: number;
}

export interface HeldFilter {
  target?: string;
  /** A root account id, or ALL_SCOPE / undefined for every row. */
  scope?: string;
  reason?: HeldReason;
  limit: number;
}

export type ResendSelector = 'course' | 'assignment' | 'all';

export interface ResendRequest {
  target: string;
  selector: ResendSelector;
  /** The course or assignment id; null for all. */
  id: string | null;
  requested_by: string;
  requested_at: number;
}

export interface ResendRecord extends ResendRequest {
  /** The resend's id in the history. */
  resend_id: string;
  /** Acknowledged rows forgotten: the next run sends their current view again. */
  unacked: number;
}

/** The right to deliver to a target, until released. Held by one run at a time, across processes. */
export interface TargetLease {
  readonly target: string;
  /** Throws when the lease was lost (e.g. the process was paused past its expiry). */
  check(): Promise<void>;
  release(): Promise<void>;
}

export interface LockOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Identifies the holder in the lease table (logs, debugging). */
  holder: string;
  signal?: AbortSignal;
}

export interface SyncStore {
  readonly backend: 'sqlite' | 'postgres';

  // schedules
  scheduleStates(): Promise<ScheduleStateRecord[]>;
  setScheduleStatus(state: ScheduleStateRecord): Promise<void>;

  // runs
  /** Inserts a run; for an automatic run, null when its occurrence is already claimed. */
  insertRun(run: NewRun): Promise<string | null>;
  markLocked(runId: string, at: number): Promise<void>;
  finishRun(runId: string, finish: RunFinish): Promise<void>;
  getRun(id: string): Promise<RunRecord | null>;
  /** Newest first; `before` is an id to page back from. */
  listRuns(filter: { schedule_id?: string; limit: number; before?: string }): Promise<RunRecord[]>;
  /** Whether the schedule has any run that was not skipped (started at or after `since`, if given). */
  hasRun(scheduleId: string, since?: number): Promise<boolean>;
  /** When the schedule's last successful and last failed runs finished (ms; null: none), for the metrics. */
  lastOutcomes(scheduleId: string): Promise<{ succeeded: number | null; failed: number | null }>;
  /** Runs still marked running whose target is `target`. */
  runningRuns(target: string): Promise<RunRecord[]>;

  // targets
  lockTarget(target: string, options: LockOptions): Promise<TargetLease>;
  /** The cursor of (target, scope), "0" when none, and the target's epoch. */
  cursor(target: string, scope: string): Promise<{ watermark: string; epoch: string }>;
  /** The highest resend-queue id of the target ("0" when empty). */
  queueMark(target: string): Promise<string>;
  /**
   * Moves the cursor of (target, scope) forward to `watermark` (never back), unless the target's
   * epoch is no longer `epoch` (a resend --all came since: its reset stands).
   */
  advanceCursor(target: string, scope: string, epoch: string, watermark: string): Promise<void>;

  // the delta
  /**
   * Fills the run's candidate view: every key whose SIS view may have changed — record rows changed
   * in (from, to], the rows of students and courses whose mappings changed in that range, and the
   * target's resend queue up to `queueMark` — once each, with everything its view
   * depends on (state, mappings, ledger, held row) as of now, numbered 1, 2, … in SPEC §6 file order
   * (set-based: one statement, sorted by the database).
   */
  buildCandidates(runId: string, target: string, from: string, to: string, queueMark: string): Promise<void>;
  /** The candidates numbered after `after`, in file order (at most `limit`), and the last number read. */
  candidatePage(runId: string, after: number, limit: number): Promise<{ candidates: Candidate[]; last: number }>;
  dropCandidates(runId: string): Promise<void>;

  // held
  /** Writes what a run found: `holds` upserted (keeping `since` when already held), `releases` removed. */
  writeHeld(target: string, holds: readonly HeldWrite[], releases: readonly SyncKey[], at: number): Promise<void>;
  listHeld(filter: HeldFilter): Promise<HeldEntry[]>;
  heldCounts(target: string, scope: string): Promise<HeldCounts>;

  // batches
  createBatch(batch: NewBatch): Promise<void>;
  /**
   * In one transaction: the ledger entries of `rows` (numbered from `firstOrdinal`, file order) and,
   * when given, the next piece of the batch's file (pieces are numbered 1, 2, …).
   */
  appendBatch(batchId: string, firstOrdinal: number, rows: readonly BatchRow[], chunk: BatchChunk | null): Promise<void>;
  /** Marks the batch pending (complete, deliverable). */
  sealBatch(batchId: string, summary: { row_count: number; rows_by: RowsBy; held: HeldCounts }): Promise<void>;
  /** Piece `n` of the batch's file; null after the last. */
  batchChunk(batchId: string, n: number): Promise<Uint8Array | null>;
  batches(target: string, statuses: readonly BatchStatus[]): Promise<BatchRecord[]>;
  getBatch(id: string): Promise<BatchRecord | null>;
  /**
   * In ONE transaction: the ledger takes exactly the batch's rows, the batch becomes acked with its
   * location, the cursor moves to the batch's watermark (unless a resend --all came since), the resend
   * queue entries it examined are done, and its run succeeds. Throws if the lease was lost.
   */
  ackBatch(lease: TargetLease, batchId: string, location: string, at: number): Promise<void>;
  /**
   * The batch will never be delivered: abandoned, its rows dropped. `maybeDelivered` (a pending batch
   * whose delivery may have reached the SIS before it failed, or before the process died): its keys
   * enter the ledger with a blank digest, so the next run sends their current view, a delete included.
   */
  abandonBatch(batchId: string, at: number, options?: { maybeDelivered?: boolean }): Promise<void>;

  // resend
  /**
   * Forgets the target's acknowledged view of the selected keys that it holds (op upsert: their digest
   * is blanked), so that the next run sends their current view, a delete included; queues them (or,
   * for all, resets the target's cursors).
   */
  resend(request: ResendRequest): Promise<ResendRecord>;

  /** Releases what the sync store holds of its own (SQLite: its connection); the state store stays open. */
  close(): Promise<void>;
}

/** The sync store sharing `state`'s connection (and database). */
export async function openSyncStore(state: StateStore): Promise<SyncStore> {
  const connection = connectionOf(state);
  if (connection.kind === 'sqlite') {
    const { SqliteSyncStore } = await import('../state/sqlite-sync.js');
    return new SqliteSyncStore(connection.db);
  }
  const { PostgresSyncStore } = await import('../state/postgres-sync.js');
  return new PostgresSyncStore(connection.pool, connection.shownUrl);
}
