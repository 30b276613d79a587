import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { InternalError, StoreUnavailableError } from '../errors.js';
import { LeaseLostError, TargetBusyError } from '../sync/errors.js';
import {
  ALL_SCOPE,
  type BatchRecord,
  type BatchChunk,
  type BatchRow,
  type BatchStatus,
  type HeldEntry,
  type HeldFilter,
  type HeldWrite,
  type LockOptions,
  type NewBatch,
  type NewRun,
  type ResendRecord,
  type ResendRequest,
  type RunFinish,
  type RunRecord,
  type ScheduleStateRecord,
  type SyncStore,
  type TargetLease,
} from '../sync/store.js';
import { HELD_REASONS, zeroHeld, type Candidate, type HeldCounts, type HeldReason, type SyncKey } from '../sync/view.js';
import {
  RESEND_ASSIGNMENT_SOURCE,
  RESEND_COURSE_SOURCES,
  batchFromRow,
  candidateFrom,
  candidateSources,
  candidateView,
  heldFromRow,
  runFromRow,
  forget,
  maybeDelivered,
  VIEW_COLUMNS,
  type Raw,
} from './sync-sql.js';

/**
 * The sync store on SQLite (see src/sync/store.ts), on the state store's own connection. Every
 * transaction is synchronous (better-sqlite3): nothing else on this connection, such as the fold of
 * a concurrent ingest, can run inside one. Integers are read as BigInt (the connection's setting).
 */

const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT)/;

function translate(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT.test(code)) {
    return new StoreUnavailableError(`state store unavailable: ${(err as Error).message} (${code})`, { cause: err });
  }
  return err;
}

const big = (id: string): bigint => BigInt(id);
const bigOrNull = (id: string | null): bigint | null => (id === null ? null : BigInt(id));
const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/**
 * A run's candidates live in a TEMP table of the connection, one per run (so a dry run may overlap a
 * run), dropped at its end: nothing of it reaches the WAL, and a crashed process leaves nothing
 * behind. Ids are TEXT there (the column affinity converts them on insert), which is how a page
 * reads them; the other columns keep what they are given.
 */
const SQLITE_VIEW_TYPES: Partial<Record<(typeof VIEW_COLUMNS)[number], string>> = {
  k1: 'TEXT',
  k2: 'TEXT',
  k3: 'TEXT',
  course_id: 'TEXT',
  root_account_id: 'TEXT',
  held_root_account_id: 'TEXT',
};

function viewTable(runId: string): string {
  if (!/^-?[0-9]{1,19}$/.test(runId)) throw new InternalError(`not a run id: ${runId}`);
  return `sync_view_${runId.replace('-', 'dry')}`;
}

/** The sync connection's page cache, KiB (also the sorter's memory before it spills to a temp file). */
const SYNC_CACHE_KIB = 16_384;

/** Lease length; renewed every third of it while the run goes on. */
const LEASE_MS = 60_000;
const LOCK_POLL_MS = 200;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class SqliteSyncStore implements SyncStore {
  readonly backend = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  /** Each run's page statement (on its own TEMP table). */
  private readonly pages = new Map<string, Database.Statement>();

  private readonly db: Database.Database;
  private readonly own: boolean;

  /**
   * On a connection of its own to the state file (the state store's is left to reads and its 64 MB
   * page cache), with a smaller cache: a run's candidate sort takes as much memory as the page cache
   * (SQLite sizes its sorter by it), and the sync must stay well under 300 MB at a million rows. An
   * in-memory store has no file to share: then the store's own connection.
   */
  constructor(shared: Database.Database) {
    this.own = !shared.memory;
    this.db = this.own ? new Database(shared.name, { fileMustExist: true }) : shared;
    if (this.own) {
      this.db.defaultSafeIntegers(true);
      this.db.pragma('busy_timeout = 10000');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma(`cache_size = -${SYNC_CACHE_KIB}`);
    }
  }

  async close(): Promise<void> {
    this.pages.clear();
    if (this.own && this.db.open) this.db.close();
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) this.statements.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  private run<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw translate(err);
    }
  }

  private tx<T>(work: () => T): T {
    return this.run(() => this.db.transaction(work).immediate());
  }

  // schedules

  async scheduleStates(): Promise<ScheduleStateRecord[]> {
    const rows = this.run(() => this.stmt('SELECT * FROM schedule_state ORDER BY schedule_id').all() as Raw[]);
    return rows.map((r) => ({
      schedule_id: r['schedule_id'] as string,
      status: r['status'] as ScheduleStateRecord['status'],
      changed_by: r['changed_by'] as string,
      changed_at: Number(r['changed_at']),
    }));
  }

  async setScheduleStatus(s: ScheduleStateRecord): Promise<void> {
    this.run(() =>
      this.stmt(
        `INSERT INTO schedule_state (schedule_id, status, changed_by, changed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (schedule_id) DO UPDATE SET status = excluded.status, changed_by = excluded.changed_by,
           changed_at = excluded.changed_at`,
      ).run(s.schedule_id, s.status, s.changed_by, BigInt(s.changed_at)),
    );
  }

  // runs

  async insertRun(r: NewRun): Promise<string | null> {
    const row = this.run(
      () =>
        this.stmt(
          `INSERT INTO sync_runs (kind, schedule_id, trigger_type, triggered_by, scheduled_for, started_at, finished_at, status, target, scope)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING id`,
        ).get(
          r.kind ?? 'sync',
          r.schedule_id,
          r.trigger,
          r.triggered_by,
          r.scheduled_for === null ? null : BigInt(r.scheduled_for),
          BigInt(r.started_at),
          r.finished_at === undefined ? null : BigInt(r.finished_at),
          r.status,
          r.target,
          r.scope,
        ) as Raw | undefined,
    );
    return row === undefined ? null : String(row['id']);
  }

  async markLocked(runId: string, at: number): Promise<void> {
    this.run(() => this.stmt('UPDATE sync_runs SET locked_at = ? WHERE id = ?').run(BigInt(at), big(runId)));
  }

  async finishRun(runId: string, f: RunFinish): Promise<void> {
    this.run(() => this.finishRunSync(runId, f));
  }

  private finishRunSync(runId: string | bigint, f: RunFinish): void {
    this.stmt(
      `UPDATE sync_runs SET status = ?, finished_at = ?, error = ?, batch_id = coalesce(?, batch_id),
         batch_location = coalesce(?, batch_location), rows_by = coalesce(?, rows_by), held_by = coalesce(?, held_by),
         report = coalesce(?, report)
       WHERE id = ?`,
    ).run(
      f.status,
      BigInt(f.finished_at),
      f.error ?? null,
      f.batch_id ?? null,
      f.batch_location ?? null,
      json(f.rows_by),
      json(f.held),
      json(f.report),
      typeof runId === 'bigint' ? runId : big(runId),
    );
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    const row = this.run(() => this.stmt('SELECT * FROM sync_runs WHERE id = ?').get(big(id)) as Raw | undefined);
    return row === undefined ? null : runFromRow(row);
  }

  async listRuns(filter: { schedule_id?: string; limit: number; before?: string }): Promise<RunRecord[]> {
    const before = filter.before === undefined ? 9223372036854775807n : big(filter.before);
    const rows = this.run(() =>
      filter.schedule_id === undefined
        ? (this.stmt('SELECT * FROM sync_runs WHERE id < ? ORDER BY id DESC LIMIT ?').all(before, BigInt(filter.limit)) as Raw[])
        : (this.stmt('SELECT * FROM sync_runs WHERE schedule_id = ? AND id < ? ORDER BY id DESC LIMIT ?').all(
            filter.schedule_id,
            before,
            BigInt(filter.limit),
          ) as Raw[]),
    );
    return rows.map(runFromRow);
  }

  async hasRun(scheduleId: string, since?: number): Promise<boolean> {
    const row = this.run(
      () =>
        this.stmt(
          `SELECT 1 FROM sync_runs WHERE schedule_id = ? AND status <> 'skipped' AND started_at >= ? LIMIT 1`,
        ).get(scheduleId, BigInt(since ?? -1)) as Raw | undefined,
    );
    return row !== undefined;
  }

  async lastOutcomes(scheduleId: string): Promise<{ succeeded: number | null; failed: number | null }> {
    const rows = this.run(
      () =>
        this.stmt(
          `SELECT status, MAX(finished_at) AS at FROM sync_runs WHERE schedule_id = ? AND status IN ('succeeded', 'failed') GROUP BY status`,
        ).all(scheduleId) as { status: string; at: bigint | number | null }[],
    );
    const at = (status: string) => {
      const v = rows.find((r) => r.status === status)?.at;
      return v === undefined || v === null ? null : Number(v);
    };
    return { succeeded: at('succeeded'), failed: at('failed') };
  }

  async runningRuns(target: string): Promise<RunRecord[]> {
    const rows = this.run(() => this.stmt(`SELECT * FROM sync_runs WHERE target = ? AND status = 'running' ORDER BY id`).all(target) as Raw[]);
    return rows.map(runFromRow);
  }

  // targets

  async lockTarget(target: string, options: LockOptions): Promise<TargetLease> {
    const me = `${options.holder}#${randomBytes(6).toString('hex')}`;
    const host = hostname();
    const deadline = Date.now() + options.timeoutMs;
    const take = this.db.transaction((now: number): boolean => {
      const row = this.stmt('SELECT * FROM sync_locks WHERE target = ?').get(target) as Raw | undefined;
      const free =
        row === undefined ||
        Number(row['expires_at']) <= now ||
        // Its holder died on this machine (a crash, SIGKILL): no need to wait out the lease.
        (row['host'] === host && Number(row['pid']) !== process.pid && !processAlive(Number(row['pid'])));
      if (!free) return false;
      this.stmt(
        `INSERT INTO sync_locks (target, holder, host, pid, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (target) DO UPDATE SET holder = excluded.holder, host = excluded.host, pid = excluded.pid,
           expires_at = excluded.expires_at`,
      ).run(target, me, host, BigInt(process.pid), BigInt(now + LEASE_MS));
      return true;
    });
    for (;;) {
      if (this.run(() => take.immediate(Date.now()))) break;
      if (Date.now() >= deadline) {
        throw new TargetBusyError(`another run has been delivering to ${target} for longer than ${Math.round(options.timeoutMs / 1000)} s`);
      }
      await delay(LOCK_POLL_MS, undefined, { signal: options.signal });
    }

    let lost = false;
    const renew = setInterval(() => {
      try {
        const r = this.stmt('UPDATE sync_locks SET expires_at = ? WHERE target = ? AND holder = ?').run(BigInt(Date.now() + LEASE_MS), target, me);
        if (r.changes === 0) lost = true;
      } catch {
        // busy: the next renewal tries again, well before expiry
      }
    }, LEASE_MS / 3);
    renew.unref();
    const store = this;
    return {
      target,
      holder: me,
      async check() {
        const row = store.run(() => store.stmt('SELECT holder FROM sync_locks WHERE target = ?').get(target) as Raw | undefined);
        if (lost || row?.['holder'] !== me) throw new LeaseLostError(`the lease on ${target} was lost during the run`);
      },
      async release() {
        clearInterval(renew);
        try {
          store.stmt('DELETE FROM sync_locks WHERE target = ? AND holder = ?').run(target, me);
        } catch {
          // it expires on its own
        }
      },
    } as TargetLease & { holder: string };
  }

  async cursor(target: string, scope: string): Promise<{ watermark: string; epoch: string }> {
    return this.run(() => {
      const c = this.stmt('SELECT watermark FROM sync_cursor WHERE target = ? AND scope = ?').get(target, scope) as Raw | undefined;
      const e = this.stmt('SELECT epoch FROM sync_targets WHERE target = ?').get(target) as Raw | undefined;
      return { watermark: String(c?.['watermark'] ?? 0n), epoch: String(e?.['epoch'] ?? 0n) };
    });
  }

  async queueMark(target: string): Promise<string> {
    const row = this.run(() => this.stmt('SELECT max(id) AS m FROM sync_queue WHERE target = ?').get(target) as Raw);
    return String(row['m'] ?? 0n);
  }

  async advanceCursor(target: string, scope: string, epoch: string, watermark: string): Promise<void> {
    this.tx(() => this.advanceCursorSync(target, scope, epoch, watermark));
  }

  /** advanceCursor inside a write transaction (also the acknowledgement's). */
  private advanceCursorSync(target: string, scope: string, epoch: string, watermark: string): void {
    const e = this.stmt('SELECT epoch FROM sync_targets WHERE target = ?').get(target) as Raw | undefined;
    if (String(e?.['epoch'] ?? 0n) !== epoch) return;
    this.stmt(
      `INSERT INTO sync_cursor (target, scope, watermark) VALUES (?, ?, ?)
       ON CONFLICT (target, scope) DO UPDATE SET watermark = max(watermark, excluded.watermark)`,
    ).run(target, scope, big(watermark));
  }

  // the delta

  async buildCandidates(runId: string, target: string, from: string, to: string, queueMark: string): Promise<void> {
    const t = viewTable(runId);
    const id = this.stmt('SELECT id FROM sync_targets WHERE target = ?').get(target) as Raw | undefined;
    const params = { target, target_id: (id?.['id'] as bigint | undefined) ?? -1n, from: big(from), to: big(to), mark: big(queueMark) };
    const bound = (sql: string) => Object.fromEntries(Object.entries(params).filter(([name]) => sql.includes(`@${name}`)));
    // Deferred: it only reads the main database, so the fold of another process may write meanwhile.
    this.run(() =>
      this.db.transaction(() => {
        this.db.exec(`DROP TABLE IF EXISTS temp.${t}; DROP TABLE IF EXISTS temp.${t}_keys;
          CREATE TEMP TABLE ${t}_keys (record_type TEXT NOT NULL, k1 INTEGER NOT NULL, k2 INTEGER NOT NULL, k3 INTEGER NOT NULL,
            PRIMARY KEY (record_type, k1, k2, k3)) WITHOUT ROWID;
          CREATE TEMP TABLE ${t} (ord INTEGER PRIMARY KEY, ${VIEW_COLUMNS.map((c) => `${c} ${SQLITE_VIEW_TYPES[c] ?? ''}`).join(', ')});`);
        // Keys first, deduplicated by their table's key (cheaper here than UNION), then joined and sorted
        // once, straight into rowid order: ord is the position in the file.
        for (const select of candidateSources('sqlite')) {
          this.db.prepare(`INSERT OR IGNORE INTO temp.${t}_keys (record_type, k1, k2, k3) ${select}`).run(bound(select));
        }
        const v = candidateView('sqlite', `temp.${t}_keys AS c`);
        const fill = `INSERT INTO temp.${t} (${VIEW_COLUMNS.join(', ')}) SELECT ${v.columns} FROM ${v.from} ORDER BY ${v.order}`;
        this.db.prepare(fill).run(bound(fill));
        this.db.exec(`DROP TABLE temp.${t}_keys`);
      })(),
    );
  }

  async candidatePage(runId: string, after: number, limit: number): Promise<{ candidates: Candidate[]; last: number }> {
    let page = this.pages.get(runId);
    if (page === undefined) {
      // Arrays of plain numbers and strings (ids are TEXT there): no BigInt, no row objects.
      page = this.db.prepare(`SELECT ord, ${VIEW_COLUMNS.join(', ')} FROM temp.${viewTable(runId)} WHERE ord > ? ORDER BY ord LIMIT ?`);
      page.raw(true).safeIntegers(false);
      this.pages.set(runId, page);
    }
    const rows = this.run(() => page.all(after, limit) as unknown[][]);
    return { candidates: rows.map(candidateFrom), last: rows.length === 0 ? after : (rows[rows.length - 1]![0] as number) };
  }

  async dropCandidates(runId: string): Promise<void> {
    this.pages.delete(runId);
    this.run(() => this.db.exec(`DROP TABLE IF EXISTS temp.${viewTable(runId)}`));
  }

  // held

  async writeHeld(target: string, holds: readonly HeldWrite[], releases: readonly SyncKey[], at: number): Promise<void> {
    if (holds.length === 0 && releases.length === 0) return;
    this.tx(() => {
      const upsert = this.stmt(
        `INSERT INTO sync_held (target, record_type, k1, k2, k3, course_id, root_account_id, reason, since, changed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (target, record_type, k1, k2, k3) DO UPDATE SET course_id = excluded.course_id,
           root_account_id = excluded.root_account_id, reason = excluded.reason, changed_at = excluded.changed_at`,
      );
      for (const h of holds) {
        upsert.run(
          target,
          h.key.record_type,
          big(h.key.k1),
          big(h.key.k2),
          big(h.key.k3),
          bigOrNull(h.course_id),
          bigOrNull(h.root_account_id),
          h.reason,
          BigInt(at),
          BigInt(h.changed_at),
        );
      }
      const remove = this.stmt('DELETE FROM sync_held WHERE target = ? AND record_type = ? AND k1 = ? AND k2 = ? AND k3 = ?');
      for (const k of releases) remove.run(target, k.record_type, big(k.k1), big(k.k2), big(k.k3));
    });
  }

  async listHeld(filter: HeldFilter): Promise<HeldEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.target !== undefined) {
      where.push('target = ?');
      params.push(filter.target);
    }
    if (filter.scope !== undefined && filter.scope !== ALL_SCOPE) {
      where.push('root_account_id = ?');
      params.push(big(filter.scope));
    }
    if (filter.reason !== undefined) {
      where.push('reason = ?');
      params.push(filter.reason);
    }
    const sql = `SELECT * FROM sync_held ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
      ORDER BY target, course_id, k2, record_type, k1, k3 LIMIT ?`;
    const rows = this.run(() => this.db.prepare(sql).all(...params, BigInt(filter.limit)) as Raw[]);
    return rows.map(heldFromRow);
  }

  async heldCounts(target: string, scope: string): Promise<HeldCounts> {
    const rows = this.run(() =>
      scope === ALL_SCOPE
        ? (this.stmt('SELECT reason, count(*) AS n FROM sync_held WHERE target = ? GROUP BY reason').all(target) as Raw[])
        : (this.stmt('SELECT reason, count(*) AS n FROM sync_held WHERE target = ? AND root_account_id = ? GROUP BY reason').all(
            target,
            big(scope),
          ) as Raw[]),
    );
    const counts = zeroHeld();
    for (const r of rows) if (HELD_REASONS.includes(r['reason'] as HeldReason)) counts[r['reason'] as HeldReason] = Number(r['n']);
    return counts;
  }

  // batches

  async createBatch(b: NewBatch): Promise<void> {
    this.run(() =>
      this.stmt(
        `INSERT INTO sync_batches (id, target, run_id, schedule_id, scope, format, status, watermark, epoch, queue_mark, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'building', ?, ?, ?, ?)`,
      ).run(b.id, b.target, big(b.run_id), b.schedule_id, b.scope, b.format, big(b.watermark), big(b.epoch), big(b.queue_mark), BigInt(b.created_at)),
    );
    this.run(() => this.stmt('UPDATE sync_runs SET batch_id = ? WHERE id = ?').run(b.id, big(b.run_id)));
  }

  async appendBatch(batchId: string, firstOrdinal: number, rows: readonly BatchRow[], chunk: BatchChunk | null): Promise<void> {
    if (rows.length === 0 && chunk === null) return;
    this.tx(() => {
      const insert = this.stmt(
        `INSERT INTO sync_batch_keys (batch_id, ordinal, record_type, k1, k2, k3, course_id, digest, op) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      let ordinal = firstOrdinal;
      // Ids as text: STRICT INTEGER columns take decimal text exactly, and it spares a BigInt per id.
      for (const { key, digest, row } of rows) insert.run(batchId, ordinal++, key.record_type, key.k1, key.k2, key.k3, row.course_id, digest, row.op);
      if (chunk !== null) this.stmt('INSERT INTO sync_batch_chunks (batch_id, n, bytes) VALUES (?, ?, ?)').run(batchId, chunk.n, chunk.bytes);
    });
  }

  async sealBatch(batchId: string, summary: { row_count: number; rows_by: unknown; held: unknown }): Promise<void> {
    const r = this.run(() =>
      this.stmt(
        `UPDATE sync_batches SET status = 'pending', row_count = ?, rows_by = ?, held_by = ? WHERE id = ? AND status = 'building'`,
      ).run(BigInt(summary.row_count), json(summary.rows_by), json(summary.held), batchId),
    );
    if (r.changes !== 1) throw new InternalError(`batch ${batchId} is not being built`);
  }

  async batchChunk(batchId: string, n: number): Promise<Uint8Array | null> {
    const row = this.run(() => this.stmt('SELECT bytes FROM sync_batch_chunks WHERE batch_id = ? AND n = ?').get(batchId, n) as Raw | undefined);
    return row === undefined ? null : (row['bytes'] as Buffer);
  }

  async batches(target: string, statuses: readonly BatchStatus[]): Promise<BatchRecord[]> {
    const rows = this.run(
      () =>
        this.db
          .prepare(`SELECT * FROM sync_batches WHERE target = ? AND status IN (${statuses.map(() => '?').join(', ')}) ORDER BY created_at, id`)
          .all(target, ...statuses) as Raw[],
    );
    return rows.map(batchFromRow);
  }

  async getBatch(id: string): Promise<BatchRecord | null> {
    const row = this.run(() => this.stmt('SELECT * FROM sync_batches WHERE id = ?').get(id) as Raw | undefined);
    return row === undefined ? null : batchFromRow(row);
  }

  async ackBatch(lease: TargetLease, batchId: string, location: string, at: number): Promise<void> {
    const holder = (lease as TargetLease & { holder?: string }).holder;
    this.tx(() => {
      const raw = this.stmt('SELECT * FROM sync_batches WHERE id = ?').get(batchId) as Raw | undefined;
      if (raw === undefined) throw new InternalError(`no batch ${batchId}`);
      const b = batchFromRow(raw);
      if (b.status !== 'pending') throw new InternalError(`batch ${batchId} is ${b.status}, not pending`);
      const lock = this.stmt('SELECT holder FROM sync_locks WHERE target = ?').get(b.target) as Raw | undefined;
      if (lock?.['holder'] !== holder) throw new LeaseLostError(`the lease on ${b.target} was lost before batch ${batchId} was acknowledged`);

      // In the ledger's key order: each page of it is written once.
      this.stmt(
        `INSERT INTO sync_acked (target_id, record_type, k1, k2, k3, course_id, digest, op, run_id)
         SELECT ?, record_type, k1, k2, k3, course_id, digest, op, ? FROM sync_batch_keys WHERE batch_id = ?
         ORDER BY record_type, k1, k2, k3
         ON CONFLICT (target_id, record_type, k1, k2, k3) DO UPDATE SET course_id = excluded.course_id, digest = excluded.digest,
           op = excluded.op, run_id = excluded.run_id`,
      ).run(this.targetId(b.target), big(b.run_id), batchId);

      this.advanceCursorSync(b.target, b.scope, b.epoch, b.watermark);
      if (b.scope === ALL_SCOPE) {
        this.stmt('DELETE FROM sync_queue WHERE target = ? AND id <= ?').run(b.target, big(b.queue_mark));
      } else {
        this.stmt(
          `DELETE FROM sync_queue WHERE target = ? AND id <= ?
             AND course_id IN (SELECT course_id FROM course_root_accounts WHERE root_account_id = ?)`,
        ).run(b.target, big(b.queue_mark), big(b.scope));
      }
      this.stmt(`UPDATE sync_batches SET status = 'acked', location = ?, finished_at = ? WHERE id = ?`).run(location, BigInt(at), batchId);
      this.dropBatchContent(batchId);
      this.finishRunSync(big(b.run_id), {
        status: 'succeeded',
        finished_at: at,
        error: null,
        batch_id: batchId,
        batch_location: location,
        rows_by: b.rows_by,
        held: b.held,
      });
    });
  }

  async abandonBatch(batchId: string, at: number, options: { maybeDelivered?: boolean } = {}): Promise<void> {
    this.tx(() => {
      const raw = this.stmt('SELECT target, run_id, status FROM sync_batches WHERE id = ?').get(batchId) as Raw | undefined;
      if (options.maybeDelivered === true && raw?.['status'] === 'pending') {
        this.stmt(maybeDelivered('sqlite')).run(
          this.targetId(raw['target'] as string),
          raw['run_id'],
          batchId,
        );
      }
      this.stmt(`UPDATE sync_batches SET status = 'abandoned', finished_at = ? WHERE id = ? AND status IN ('building', 'pending')`).run(
        BigInt(at),
        batchId,
      );
      this.dropBatchContent(batchId);
    });
  }

  /** A batch acknowledged or abandoned needs neither its file nor its ledger entries any more. */
  private dropBatchContent(batchId: string): void {
    this.stmt('DELETE FROM sync_batch_keys WHERE batch_id = ?').run(batchId);
    this.stmt('DELETE FROM sync_batch_chunks WHERE batch_id = ?').run(batchId);
  }

  /** The target's number in the ledger (sync_targets.id), added if new. Inside a write transaction. */
  private targetId(target: string): bigint {
    this.stmt('INSERT INTO sync_targets (target, epoch) VALUES (?, 0) ON CONFLICT (target) DO NOTHING').run(target);
    return (this.stmt('SELECT id FROM sync_targets WHERE target = ?').get(target) as Raw)['id'] as bigint;
  }

  // resend

  async resend(r: ResendRequest): Promise<ResendRecord> {
    return this.tx(() => {
      let unacked: number;
      const target = r.target;
      const targetId = this.targetId(target);
      if (r.selector === 'all') {
        unacked = this.stmt(forget('target_id = ?')).run(targetId).changes;
        this.stmt('UPDATE sync_cursor SET watermark = 0 WHERE target = ?').run(target);
        this.stmt('UPDATE sync_targets SET epoch = epoch + 1 WHERE id = ?').run(targetId);
      } else {
        const id = big(r.id!);
        if (r.selector === 'course') {
          unacked = this.stmt(forget('target_id = ? AND course_id = ?')).run(targetId, id).changes;
          for (const select of RESEND_COURSE_SOURCES) {
            this.stmt(`INSERT INTO sync_queue (target, record_type, k1, k2, k3, course_id) ${select}`).run({ target, id });
          }
        } else {
          unacked = this.stmt(forget(`target_id = ? AND record_type = 'assignment' AND k1 = ?`)).run(targetId, id).changes;
          this.stmt(`INSERT INTO sync_queue (target, record_type, k1, k2, k3, course_id) ${RESEND_ASSIGNMENT_SOURCE}`).run({ target, id });
        }
      }
      const row = this.stmt(
        `INSERT INTO sync_resend (target, selector, selector_id, requested_by, requested_at, unacked) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
      ).get(target, r.selector, bigOrNull(r.id), r.requested_by, BigInt(r.requested_at), BigInt(unacked)) as Raw;
      return { ...r, resend_id: String(row['id']), unacked };
    });
  }
}
