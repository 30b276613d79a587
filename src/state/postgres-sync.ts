import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
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
  forget,
  maybeDelivered,
  heldFromRow,
  named,
  runFromRow,
  VIEW_COLUMNS,
  type Raw,
} from './sync-sql.js';

/**
 * The sync store on PostgreSQL (see src/sync/store.ts), on the state store's pool. Runs to one SIS
 * target are kept apart by a session advisory lock taken on a connection of the run's own (outside the
 * pool, so a long delivery never starves the fold of connections); the ack transaction runs on that
 * same connection, so it can only commit while the lock is held. A process that dies drops its
 * connection and with it the lock.
 */

const TRANSIENT_SQLSTATE = /^(08|53|57P0[123]|40001|40P01|55P03|58)/;
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return TRANSIENT_SQLSTATE.test(code) || TRANSIENT_ERRNO.has(code);
  return err instanceof Error && /Connection terminated|timeout exceeded|connection|ECONNREFUSED/i.test(err.message);
}

/** Namespace of the advisory locks on targets (the fold uses single-key locks; these take two keys). */
const LOCK_NAMESPACE = 731180623;
const LOCK_POLL_MS = 200;

/** A target's advisory lock key: 32 bits of sha256 of its text. A collision only serialises two targets. */
function lockKey(target: string): number {
  return createHash('sha256').update(target).digest().readInt32BE(0);
}

const CASTS = { run: 'bigint', after: 'bigint', target_id: 'bigint', target: 'text', from: 'bigint', to: 'bigint', mark: 'bigint', id: 'bigint', k1: 'bigint', k2: 'bigint', k3: 'bigint', limit: 'bigint' };

interface PgLease extends TargetLease {
  client: pg.Client;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

export class PostgresSyncStore implements SyncStore {
  readonly backend = 'postgres' as const;

  constructor(
    private readonly pool: pg.Pool,
    private readonly shownUrl: string,
  ) {}

  async close(): Promise<void> {
    // The pool is the state store's: it closes it.
  }

  private translate(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !isTransient(err)) return err;
    return new StoreUnavailableError(`state store ${this.shownUrl} unavailable: ${(err as Error).message}`, { cause: err });
  }

  private async q(sql: string, params: unknown[] = [], on: Queryable = this.pool): Promise<Raw[]> {
    try {
      return (await on.query(sql, params)).rows as Raw[];
    } catch (err) {
      throw this.translate(err);
    }
  }

  /** A statement with @name parameters. */
  private async nq(sql: string, values: Record<string, unknown>, on: Queryable = this.pool): Promise<pg.QueryResult> {
    const { text, names } = named(sql, CASTS);
    try {
      return await on.query(text, names.map((n) => values[n]));
    } catch (err) {
      throw this.translate(err);
    }
  }

  private async tx<T>(work: (c: Queryable) => Promise<T>, on?: pg.ClientBase): Promise<T> {
    let client: pg.PoolClient | undefined;
    let c: pg.ClientBase;
    if (on !== undefined) c = on;
    else {
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw this.translate(err);
      }
      c = client;
    }
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      try {
        const result = await work(c);
        await c.query('COMMIT');
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } catch (err) {
      if (isTransient(err)) broken = err as Error;
      throw this.translate(err);
    } finally {
      client?.release(broken);
    }
  }

  // schedules

  async scheduleStates(): Promise<ScheduleStateRecord[]> {
    const rows = await this.q('SELECT * FROM schedule_state ORDER BY schedule_id');
    return rows.map((r) => ({
      schedule_id: r['schedule_id'] as string,
      status: r['status'] as ScheduleStateRecord['status'],
      changed_by: r['changed_by'] as string,
      changed_at: Number(r['changed_at']),
    }));
  }

  async setScheduleStatus(s: ScheduleStateRecord): Promise<void> {
    await this.q(
      `INSERT INTO schedule_state (schedule_id, status, changed_by, changed_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (schedule_id) DO UPDATE SET status = excluded.status, changed_by = excluded.changed_by,
         changed_at = excluded.changed_at`,
      [s.schedule_id, s.status, s.changed_by, s.changed_at],
    );
  }

  // runs

  async insertRun(r: NewRun): Promise<string | null> {
    const rows = await this.q(
      `INSERT INTO sync_runs (schedule_id, trigger_type, triggered_by, scheduled_for, started_at, finished_at, status, target, scope, kind)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING id`,
      [r.schedule_id, r.trigger, r.triggered_by, r.scheduled_for, r.started_at, r.finished_at ?? null, r.status, r.target, r.scope, r.kind ?? 'sync'],
    );
    return rows.length === 0 ? null : String(rows[0]!['id']);
  }

  async markLocked(runId: string, at: number): Promise<void> {
    await this.q('UPDATE sync_runs SET locked_at = $1 WHERE id = $2', [at, runId]);
  }

  private finishRunSql(runId: string, f: RunFinish): [string, unknown[]] {
    return [
      `UPDATE sync_runs SET status = $1, finished_at = $2, error = $3::text, batch_id = coalesce($4::text, batch_id),
         batch_location = coalesce($5::text, batch_location), rows_by = coalesce($6::text, rows_by),
         held_by = coalesce($7::text, held_by), report = coalesce($9::text, report)
       WHERE id = $8`,
      [
        f.status,
        f.finished_at,
        f.error ?? null,
        f.batch_id ?? null,
        f.batch_location ?? null,
        f.rows_by == null ? null : JSON.stringify(f.rows_by),
        f.held == null ? null : JSON.stringify(f.held),
        runId,
        f.report == null ? null : JSON.stringify(f.report),
      ],
    ];
  }

  async finishRun(runId: string, f: RunFinish): Promise<void> {
    await this.q(...this.finishRunSql(runId, f));
  }

  async getRun(id: string): Promise<RunRecord | null> {
    if (!/^[0-9]{1,18}$/.test(id)) return null;
    const rows = await this.q('SELECT * FROM sync_runs WHERE id = $1', [id]);
    return rows.length === 0 ? null : runFromRow(rows[0]!);
  }

  async listRuns(filter: { schedule_id?: string; limit: number; before?: string }): Promise<RunRecord[]> {
    const before = filter.before ?? '9223372036854775807';
    const rows =
      filter.schedule_id === undefined
        ? await this.q('SELECT * FROM sync_runs WHERE id < $1 ORDER BY id DESC LIMIT $2', [before, filter.limit])
        : await this.q('SELECT * FROM sync_runs WHERE schedule_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3', [
            filter.schedule_id,
            before,
            filter.limit,
          ]);
    return rows.map(runFromRow);
  }

  async hasRun(scheduleId: string, since?: number): Promise<boolean> {
    const rows = await this.q(
      `SELECT 1 FROM sync_runs WHERE schedule_id = $1 AND status <> 'skipped' AND started_at >= $2 LIMIT 1`,
      [scheduleId, since ?? -1],
    );
    return rows.length > 0;
  }

  async lastOutcomes(scheduleId: string): Promise<{ succeeded: number | null; failed: number | null }> {
    const rows = await this.q(
      `SELECT status, MAX(finished_at) AS at FROM sync_runs WHERE schedule_id = $1 AND status IN ('succeeded', 'failed') GROUP BY status`,
      [scheduleId],
    );
    const at = (status: string) => {
      const v = rows.find((r) => r['status'] === status)?.['at'];
      return v === undefined || v === null ? null : Number(v);
    };
    return { succeeded: at('succeeded'), failed: at('failed') };
  }

  async runningRuns(target: string): Promise<RunRecord[]> {
    return (await this.q(`SELECT * FROM sync_runs WHERE target = $1 AND status = 'running' ORDER BY id`, [target])).map(runFromRow);
  }

  // targets

  async lockTarget(target: string, options: LockOptions): Promise<TargetLease> {
    const client = new pg.Client({ ...this.pool.options, application_name: 'gradestream-sync-lock' });
    let lost = false;
    client.on('error', () => (lost = true));
    client.on('end', () => (lost = true));
    try {
      await client.connect();
    } catch (err) {
      throw this.translate(err);
    }
    const key = lockKey(target);
    const deadline = Date.now() + options.timeoutMs;
    try {
      for (;;) {
        const r = await client.query('SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [LOCK_NAMESPACE, key]);
        if ((r.rows[0] as Raw)['ok'] === true) break;
        if (Date.now() >= deadline) {
          throw new TargetBusyError(`another run has been delivering to ${target} for longer than ${Math.round(options.timeoutMs / 1000)} s`);
        }
        await delay(LOCK_POLL_MS, undefined, { signal: options.signal });
      }
    } catch (err) {
      await client.end().catch(() => undefined);
      throw this.translate(err);
    }
    const lease: PgLease = {
      target,
      client,
      async check() {
        if (lost) throw new LeaseLostError(`the connection holding the lock on ${target} was lost`);
      },
      async release() {
        // Closing the session releases its advisory locks.
        await client.end().catch(() => undefined);
      },
    };
    return lease;
  }

  async cursor(target: string, scope: string): Promise<{ watermark: string; epoch: string }> {
    const rows = await this.q(
      `SELECT (SELECT watermark FROM sync_cursor WHERE target = $1 AND scope = $2) AS watermark,
              (SELECT epoch FROM sync_targets WHERE target = $1) AS epoch`,
      [target, scope],
    );
    const r = rows[0]!;
    return { watermark: String(r['watermark'] ?? '0'), epoch: String(r['epoch'] ?? '0') };
  }

  async queueMark(target: string): Promise<string> {
    const rows = await this.q('SELECT max(id) AS m FROM sync_queue WHERE target = $1', [target]);
    return String(rows[0]!['m'] ?? '0');
  }

  async advanceCursor(target: string, scope: string, epoch: string, watermark: string): Promise<void> {
    await this.tx(async (c) => {
      // FOR SHARE: a resend --all (which takes the row FOR UPDATE) waits, or is waited for.
      const rows = (await c.query('SELECT epoch FROM sync_targets WHERE target = $1 FOR SHARE', [target])).rows as Raw[];
      if (String(rows[0]?.['epoch'] ?? '0') === epoch) await this.advanceCursorIn(c, target, scope, watermark);
    });
  }

  private async advanceCursorIn(c: Queryable, target: string, scope: string, watermark: string): Promise<void> {
    await c.query(
      `INSERT INTO sync_cursor (target, scope, watermark) VALUES ($1, $2, $3)
       ON CONFLICT (target, scope) DO UPDATE SET watermark = greatest(sync_cursor.watermark, excluded.watermark)`,
      [target, scope, watermark],
    );
  }

  // the delta

  async buildCandidates(runId: string, target: string, from: string, to: string, queueMark: string): Promise<void> {
    await this.tx(async (c) => {
      const id = (await c.query('SELECT id FROM sync_targets WHERE target = $1', [target])).rows as Raw[];
      const values = { run: runId, target, target_id: id[0]?.['id'] ?? '-1', from, to, mark: queueMark };
      await c.query('DELETE FROM sync_view WHERE run_id = $1', [runId]);
      // Few candidates (a quiet night) are best found by key in the big ledger and
      // state; with the default cost of a random page (4, for spinning disks) the planner scans all of
      // them instead (3 s rather than 1.5 at 5,000,000 keys). Many candidates still get hash joins.
      await c.query('SET LOCAL random_page_cost = 1.1');
      // The sort is the database's (row_number); UNION deduplicates.
      const v = candidateView('postgres', `(${candidateSources('postgres').join('\n UNION ')}) AS c`);
      await this.nq(
        `INSERT INTO sync_view (run_id, ord, ${VIEW_COLUMNS.join(', ')})
         SELECT @run, row_number() OVER (ORDER BY ${v.order}), ${v.columns} FROM ${v.from}`,
        values,
        c,
      );
      // A fresh run's rows have no statistics yet: without them the planner may read each page by
      // scanning the whole table instead of (run_id, ord). A sample is enough.
      await c.query('ANALYZE sync_view');
    });
  }

  async candidatePage(runId: string, after: number, limit: number): Promise<{ candidates: Candidate[]; last: number }> {
    const { text, names } = named(
      `SELECT ord, ${VIEW_COLUMNS.join(', ')} FROM sync_view WHERE run_id = @run AND ord > @after ORDER BY ord LIMIT @limit`,
      CASTS,
    );
    const values: Record<string, unknown> = { run: runId, after, limit };
    let rows: unknown[][];
    try {
      rows = (await this.pool.query({ text, values: names.map((n) => values[n]), rowMode: 'array' })).rows as unknown[][];
    } catch (err) {
      throw this.translate(err);
    }
    return { candidates: rows.map(candidateFrom), last: rows.length === 0 ? after : Number(rows[rows.length - 1]![0]) };
  }

  async dropCandidates(runId: string): Promise<void> {
    await this.q('DELETE FROM sync_view WHERE run_id = $1', [runId]);
  }

  // held

  async writeHeld(target: string, holds: readonly HeldWrite[], releases: readonly SyncKey[], at: number): Promise<void> {
    if (holds.length === 0 && releases.length === 0) return;
    await this.tx(async (c) => {
      if (holds.length > 0) {
        await c.query(
          `INSERT INTO sync_held (target, record_type, k1, k2, k3, course_id, root_account_id, reason, since, changed_at)
           SELECT $1::text, u.record_type, u.k1, u.k2, u.k3, u.course_id, u.root_account_id, u.reason, $2::bigint, u.changed_at
           FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[])
             AS u(record_type, k1, k2, k3, course_id, root_account_id, reason, changed_at)
           ON CONFLICT (target, record_type, k1, k2, k3) DO UPDATE SET course_id = excluded.course_id,
             root_account_id = excluded.root_account_id, reason = excluded.reason, changed_at = excluded.changed_at`,
          [
            target,
            at,
            holds.map((h) => h.key.record_type),
            holds.map((h) => h.key.k1),
            holds.map((h) => h.key.k2),
            holds.map((h) => h.key.k3),
            holds.map((h) => h.course_id),
            holds.map((h) => h.root_account_id),
            holds.map((h) => h.reason),
            holds.map((h) => h.changed_at),
          ],
        );
      }
      if (releases.length > 0) {
        await c.query(
          `DELETE FROM sync_held h USING unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(record_type, k1, k2, k3)
           WHERE h.target = $1 AND h.record_type = u.record_type AND h.k1 = u.k1 AND h.k2 = u.k2 AND h.k3 = u.k3`,
          [target, releases.map((k) => k.record_type), releases.map((k) => k.k1), releases.map((k) => k.k2), releases.map((k) => k.k3)],
        );
      }
    });
  }

  async listHeld(filter: HeldFilter): Promise<HeldEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.target !== undefined) where.push(`target = $${params.push(filter.target)}`);
    if (filter.scope !== undefined && filter.scope !== ALL_SCOPE) where.push(`root_account_id = $${params.push(filter.scope)}`);
    if (filter.reason !== undefined) where.push(`reason = $${params.push(filter.reason)}`);
    const rows = await this.q(
      `SELECT * FROM sync_held ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY target COLLATE "C", course_id, k2, record_type COLLATE "C", k1, k3 LIMIT $${params.push(filter.limit)}`,
      params,
    );
    return rows.map(heldFromRow);
  }

  async heldCounts(target: string, scope: string): Promise<HeldCounts> {
    const rows =
      scope === ALL_SCOPE
        ? await this.q('SELECT reason, count(*) AS n FROM sync_held WHERE target = $1 GROUP BY reason', [target])
        : await this.q('SELECT reason, count(*) AS n FROM sync_held WHERE target = $1 AND root_account_id = $2 GROUP BY reason', [target, scope]);
    const counts = zeroHeld();
    for (const r of rows) if (HELD_REASONS.includes(r['reason'] as HeldReason)) counts[r['reason'] as HeldReason] = Number(r['n']);
    return counts;
  }

  // batches

  async createBatch(b: NewBatch): Promise<void> {
    await this.tx(async (c) => {
      await c.query(
        `INSERT INTO sync_batches (id, target, run_id, schedule_id, scope, format, status, watermark, epoch, queue_mark, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'building', $7, $8, $9, $10)`,
        [b.id, b.target, b.run_id, b.schedule_id, b.scope, b.format, b.watermark, b.epoch, b.queue_mark, b.created_at],
      );
      await c.query('UPDATE sync_runs SET batch_id = $1 WHERE id = $2', [b.id, b.run_id]);
    });
  }

  async appendBatch(batchId: string, firstOrdinal: number, rows: readonly BatchRow[], chunk: BatchChunk | null): Promise<void> {
    if (rows.length === 0 && chunk === null) return;
    await this.tx(async (c) => {
      // Not flushed to disk one by one: sealBatch's commit, which makes the batch deliverable, is, and
      // it flushes every commit before it (one write-ahead log). A crash before then abandons the batch.
      await c.query('SET LOCAL synchronous_commit = off');
      if (rows.length > 0) {
        const col = <T>(f: (r: BatchRow) => T): T[] => rows.map(f);
        await c.query(
          `INSERT INTO sync_batch_keys (batch_id, ordinal, record_type, k1, k2, k3, course_id, digest, op)
           SELECT $1::text, $2::bigint + u.i - 1, u.record_type, u.k1, u.k2, u.k3, u.course_id, u.digest, u.op
           FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])
             WITH ORDINALITY AS u(record_type, k1, k2, k3, course_id, digest, op, i)`,
          [
            batchId,
            firstOrdinal,
            col((r) => r.key.record_type),
            col((r) => r.key.k1),
            col((r) => r.key.k2),
            col((r) => r.key.k3),
            col((r) => r.row.course_id),
            col((r) => r.digest),
            col((r) => r.row.op),
          ],
        );
      }
      if (chunk !== null) {
        await c.query('INSERT INTO sync_batch_chunks (batch_id, n, bytes) VALUES ($1, $2, $3)', [batchId, chunk.n, Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength)]);
      }
    });
  }

  async sealBatch(batchId: string, summary: { row_count: number; rows_by: unknown; held: unknown }): Promise<void> {
    const r = await this.tx((c) =>
      c.query(`UPDATE sync_batches SET status = 'pending', row_count = $1, rows_by = $2, held_by = $3 WHERE id = $4 AND status = 'building'`, [
        summary.row_count,
        JSON.stringify(summary.rows_by),
        JSON.stringify(summary.held),
        batchId,
      ]),
    );
    if (r.rowCount !== 1) throw new InternalError(`batch ${batchId} is not being built`);
  }

  async batchChunk(batchId: string, n: number): Promise<Uint8Array | null> {
    const rows = await this.q('SELECT bytes FROM sync_batch_chunks WHERE batch_id = $1 AND n = $2', [batchId, n]);
    return rows.length === 0 ? null : (rows[0]!['bytes'] as Buffer);
  }

  async batches(target: string, statuses: readonly BatchStatus[]): Promise<BatchRecord[]> {
    const rows = await this.q('SELECT * FROM sync_batches WHERE target = $1 AND status = ANY($2::text[]) ORDER BY created_at, id', [
      target,
      statuses,
    ]);
    return rows.map(batchFromRow);
  }

  async getBatch(id: string): Promise<BatchRecord | null> {
    const rows = await this.q('SELECT * FROM sync_batches WHERE id = $1', [id]);
    return rows.length === 0 ? null : batchFromRow(rows[0]!);
  }

  /** Takes the target's row lock first, as resend does, so the two never deadlock; its epoch and ledger number. */
  private async lockTargetRow(c: Queryable, target: string): Promise<{ epoch: string; id: string }> {
    await c.query('INSERT INTO sync_targets (target, epoch) VALUES ($1, 0) ON CONFLICT (target) DO NOTHING', [target]);
    const rows = (await c.query('SELECT epoch, id FROM sync_targets WHERE target = $1 FOR UPDATE', [target])).rows as Raw[];
    return { epoch: String(rows[0]!['epoch']), id: String(rows[0]!['id']) };
  }

  async ackBatch(lease: TargetLease, batchId: string, location: string, at: number): Promise<void> {
    const client = (lease as Partial<PgLease>).client;
    if (client === undefined) throw new InternalError('ackBatch needs a lease taken from this store');
    await lease.check();
    await this.tx(async (c) => {
      const raw = (await c.query('SELECT * FROM sync_batches WHERE id = $1 FOR UPDATE', [batchId])).rows as Raw[];
      if (raw.length === 0) throw new InternalError(`no batch ${batchId}`);
      const b = batchFromRow(raw[0]!);
      if (b.status !== 'pending') throw new InternalError(`batch ${batchId} is ${b.status}, not pending`);
      const { epoch, id } = await this.lockTargetRow(c, b.target);
      await c.query(
        `INSERT INTO sync_acked (target_id, record_type, k1, k2, k3, course_id, digest, op, run_id)
         SELECT $1::bigint, record_type, k1, k2, k3, course_id, digest, op, $2::bigint FROM sync_batch_keys WHERE batch_id = $3
         ORDER BY record_type, k1, k2, k3
         ON CONFLICT (target_id, record_type, k1, k2, k3) DO UPDATE SET course_id = excluded.course_id, digest = excluded.digest,
           op = excluded.op, run_id = excluded.run_id`,
        [id, b.run_id, batchId],
      );
      if (epoch === b.epoch) await this.advanceCursorIn(c, b.target, b.scope, b.watermark);
      if (b.scope === ALL_SCOPE) {
        await c.query('DELETE FROM sync_queue WHERE target = $1 AND id <= $2', [b.target, b.queue_mark]);
      } else {
        await c.query(
          `DELETE FROM sync_queue WHERE target = $1 AND id <= $2
             AND course_id IN (SELECT course_id FROM course_root_accounts WHERE root_account_id = $3)`,
          [b.target, b.queue_mark, b.scope],
        );
      }
      await c.query(`UPDATE sync_batches SET status = 'acked', location = $1, finished_at = $2 WHERE id = $3`, [location, at, batchId]);
      await c.query('DELETE FROM sync_batch_keys WHERE batch_id = $1', [batchId]);
      await c.query('DELETE FROM sync_batch_chunks WHERE batch_id = $1', [batchId]);
      await c.query(
        ...this.finishRunSql(b.run_id, {
          status: 'succeeded',
          finished_at: at,
          error: null,
          batch_id: batchId,
          batch_location: location,
          rows_by: b.rows_by,
          held: b.held,
        }),
      );
    }, client);
  }

  async abandonBatch(batchId: string, at: number, options: { maybeDelivered?: boolean } = {}): Promise<void> {
    await this.tx(async (c) => {
      const raw = (await c.query('SELECT target, run_id, status FROM sync_batches WHERE id = $1', [batchId])).rows[0] as Raw | undefined;
      if (options.maybeDelivered === true && raw?.['status'] === 'pending') {
        const { id: targetId } = await this.lockTargetRow(c, raw['target'] as string);
        await c.query(maybeDelivered('postgres'), [targetId, raw['run_id'], batchId]);
      }
      await c.query(`UPDATE sync_batches SET status = 'abandoned', finished_at = $1 WHERE id = $2 AND status IN ('building', 'pending')`, [
        at,
        batchId,
      ]);
      await c.query('DELETE FROM sync_batch_keys WHERE batch_id = $1', [batchId]);
      await c.query('DELETE FROM sync_batch_chunks WHERE batch_id = $1', [batchId]);
    });
  }

  // resend

  async resend(r: ResendRequest): Promise<ResendRecord> {
    return this.tx(async (c) => {
      const target = r.target;
      const { id: targetId } = await this.lockTargetRow(c, target);
      let unacked: number;
      if (r.selector === 'all') {
        unacked = (await c.query(forget('target_id = $1'), [targetId])).rowCount ?? 0;
        await c.query('UPDATE sync_cursor SET watermark = 0 WHERE target = $1', [target]);
        await c.query('UPDATE sync_targets SET epoch = epoch + 1 WHERE target = $1', [target]);
      } else if (r.selector === 'course') {
        unacked = (await c.query(forget('target_id = $1 AND course_id = $2'), [targetId, r.id])).rowCount ?? 0;
        for (const select of RESEND_COURSE_SOURCES) {
          await this.nq(`INSERT INTO sync_queue (target, record_type, k1, k2, k3, course_id) ${select}`, { target, id: r.id }, c);
        }
      } else {
        unacked =
          (await c.query(forget(`target_id = $1 AND record_type = 'assignment' AND k1 = $2`), [targetId, r.id])).rowCount ?? 0;
        await this.nq(`INSERT INTO sync_queue (target, record_type, k1, k2, k3, course_id) ${RESEND_ASSIGNMENT_SOURCE}`, { target, id: r.id }, c);
      }
      const rows = (
        await c.query(
          `INSERT INTO sync_resend (target, selector, selector_id, requested_by, requested_at, unacked)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [target, r.selector, r.id, r.requested_by, r.requested_at, unacked],
        )
      ).rows as Raw[];
      return { ...r, resend_id: String(rows[0]!['id']), unacked };
    });
  }
}
