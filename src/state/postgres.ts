import pg from 'pg';
import { StoreUnavailableError } from '../errors.js';
import { compareVersions, type Version } from './fingerprint.js';
import { outcomes, plan, type Outcome, type Plan, type Reference } from './fold.js';
import { CONNECTION, type HasConnection, type StoreConnection } from './connection.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import type { Batch, StateCounts, StateStore, StoredQuarantineEntry } from './store.js';
import { TABLES, keyString, listedRaw, printableDetail, rawForms, type Column, type StoredRow, type Table, type Value } from './tables.js';
import { courseRows, dump, inspect, studentsWithSisId, type QuarantineDumpRow, type RowReader } from './view.js';

/**
 * The shared backend, for several replicas folding into one database at once. Each table gets one
 * set-based statement per batch: INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE … WHERE
 * the incoming (instant, fp) is greater — the last-writer-wins rule is applied by PostgreSQL on the
 * locked row, never read-modify-written in JS, so concurrent writers cannot undo each other. Rows
 * are inserted in key order so that two batches lock shared keys in the same order (no deadlocks in
 * practice; a deadlock or serialisation failure is retried).
 *
 * int8 comes back as a decimal string (pg's default), which is exactly how ids are held.
 */

const PG_TYPE: Record<Column['type'], string> = { id: 'bigint', score: 'float8', text: 'text', bool: 'boolean' };

/** Advisory lock keys (arbitrary constants, per database). */
const MIGRATION_LOCK = '7311806231001';
const SEQ_LOCK = '7311806231002';

/** SQLSTATEs that mean "try again": connection trouble, shutdown, lack of resources, conflicts. */
const TRANSIENT_SQLSTATE = /^(08|53|57P0[123]|40001|40P01|55P03|58)/;
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
const RETRY_IN_PLACE = new Set(['40001', '40P01']);

function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return TRANSIENT_SQLSTATE.test(code) || TRANSIENT_ERRNO.has(code);
  // pg's own connection errors carry no code.
  return err instanceof Error && /Connection terminated|timeout exceeded|connection|ECONNREFUSED/i.test(err.message);
}

function translate(err: unknown, url: string): unknown {
  if (err instanceof StoreUnavailableError || !isTransient(err)) return err;
  return new StoreUnavailableError(`state store ${url} unavailable: ${(err as Error).message}`, { cause: err });
}

type Raw = Record<string, unknown>;

function toStoredRow(table: Table, raw: Raw): StoredRow {
  const row: Record<string, Value> = {};
  for (const c of [...table.key, ...table.values]) row[c.name] = (raw[c.name] ?? null) as Value;
  return { ...row, instant: Number(raw['instant']), fp: raw['fp'] as string, seq: String(raw['seq']) };
}

/** The upsert of one table's winners; with `reference`, it also reports each key's prior version. */
function upsertSql(t: Table, reference: boolean): string {
  const keys = t.key.map((c) => c.name);
  const vals = t.values.map((c) => c.name);
  const cols = [...keys, ...vals, 'instant', 'fp'];
  const types = [...[...t.key, ...t.values].map((c) => PG_TYPE[c.type]), 'bigint', 'text'];
  const unnest = `unnest(${types.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}) AS u(${cols.join(', ')})`;
  const match = (a: string, b: string): string => keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' AND ');
  // Mappings keep their change number when a later event only repeats the same value.
  const seq = t.seqOnValueChangeOnly
    ? `CASE WHEN (${vals.map((v) => `t.${v}`).join(', ')}) IS DISTINCT FROM (${vals.map((v) => `excluded.${v}`).join(', ')})
       THEN excluded.seq ELSE t.seq END`
    : 'excluded.seq';
  const insert = `INSERT INTO ${t.name} AS t (${cols.join(', ')}, seq)
    SELECT ${cols.join(', ')}, nextval('gradestream_change_seq') FROM input ORDER BY ${keys.join(', ')}
    ON CONFLICT (${keys.join(', ')}) DO UPDATE SET
      ${[...vals, 'instant', 'fp'].map((c) => `${c} = excluded.${c}`).join(', ')}, seq = ${seq}
    WHERE (excluded.instant, excluded.fp) > (t.instant, t.fp)`;
  if (!reference) return `WITH input AS (SELECT * FROM ${unnest}) ${insert}`;
  // `prior` and `written` see the same snapshot: prior is the row before this statement.
  return `WITH input AS (SELECT * FROM ${unnest}),
  prior AS (SELECT ${keys.map((k) => `t.${k}`).join(', ')}, t.instant, t.fp FROM ${t.name} t JOIN input ON ${match('t', 'input')}),
  written AS (${insert} RETURNING ${keys.map((k) => `t.${k}`).join(', ')})
  SELECT ${keys.map((k) => `input.${k}`).join(', ')}, prior.instant AS prior_instant, prior.fp AS prior_fp,
    EXISTS (SELECT 1 FROM written w WHERE ${match('w', 'input')}) AS written
  FROM input LEFT JOIN prior ON ${match('prior', 'input')}`;
}

/** The current version of some keys (rows this transaction holds locked). */
function currentSql(t: Table): string {
  const keys = t.key.map((c) => c.name);
  const unnest = `unnest(${t.key.map((c, i) => `$${i + 1}::${PG_TYPE[c.type]}[]`).join(', ')}) AS u(${keys.join(', ')})`;
  return `SELECT ${keys.map((k) => `t.${k}`).join(', ')}, t.instant, t.fp FROM ${t.name} t JOIN ${unnest} ON ${keys
    .map((k) => `t.${k} = u.${k}`)
    .join(' AND ')}`;
}


class PostgresStore implements StateStore, RowReader, HasConnection {
  private readonly sql = new Map<string, string>();
  /** The sync engine's way in (src/state/postgres-sync.ts). */
  readonly [CONNECTION]: StoreConnection;

  constructor(
    private readonly pool: pg.Pool,
    readonly url: string,
  ) {
    this[CONNECTION] = { kind: 'postgres', pool, shownUrl: url };
  }

  private text(name: string, make: () => string): string {
    let s = this.sql.get(name);
    if (s === undefined) this.sql.set(name, (s = make()));
    return s;
  }

  private async withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translate(err, this.url);
    }
    let broken: Error | undefined;
    try {
      return await work(client);
    } catch (err) {
      if (isTransient(err)) broken = err as Error;
      throw translate(err, this.url);
    } finally {
      client.release(broken); // a connection that failed is discarded, not reused
    }
  }

  /** The last apply's transaction: the next one starts after it (see StateStore.apply). */
  private applying: Promise<unknown> = Promise.resolve();

  async apply(batch: Batch): Promise<Outcome[]> {
    const p = plan(batch.records, batch.mappings);
    const redriven = batch.redriven ?? [];
    if (p.writes.length === 0 && batch.quarantine.length === 0 && redriven.length === 0) return [];
    // Planned at once, written after the applies already called: a caller may overlap its next batch
    // with this one's transaction, and the outcomes are still those of folding in call order (two
    // transactions of one process on the same keys would otherwise compare against the same prior).
    const run = this.applying.then(() => this.transact(p, batch, redriven));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async transact(p: Plan, batch: Batch, redriven: readonly string[]): Promise<Outcome[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const reference = await this.withClient((client) => this.transaction(client, p, batch.quarantine, redriven));
        return outcomes(p.records, reference);
      } catch (err) {
        const code = ((err as { cause?: { code?: unknown } }).cause ?? err) as { code?: unknown };
        if (attempt < 5 && typeof code.code === 'string' && RETRY_IN_PLACE.has(code.code)) {
          await new Promise((resolve) => setTimeout(resolve, 10 * attempt * Math.random()));
          continue;
        }
        throw err;
      }
    }
  }

  private async transaction(client: pg.PoolClient, p: Plan, quarantine: Batch['quarantine'], redriven: readonly string[]): Promise<Reference> {
    await client.query('BEGIN');
    try {
      // Shared: writers run side by side; changeWatermark() takes it exclusively to wait them out.
      await client.query('SELECT pg_advisory_xact_lock_shared($1)', [SEQ_LOCK]);
      const reference: Reference = new Map();
      for (const { table, rows } of p.writes) {
        const isRecord = table.seqOnValueChangeOnly === false;
        const columns = [...table.key, ...table.values];
        const params: unknown[] = columns.map((_, i) =>
          rows.map((r) => (i < table.key.length ? r.key[i] : r.values[i - table.key.length])),
        );
        params.push(rows.map((r) => r.instant), rows.map((r) => r.fp));
        const sql = this.text(`${table.name}:${isRecord}`, () => upsertSql(table, isRecord));
        const result = await client.query(sql, params);
        if (isRecord) reference.set(table.name, await this.versions(client, table, rows, result.rows as Raw[]));
      }
      if (quarantine.length > 0) {
        const raws = quarantine.map((q) => rawForms(q.raw));
        await client.query(
          `INSERT INTO quarantine (source, position, reason, detail, raw, raw_sha256, received_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::bigint[])
           ON CONFLICT (source, position, raw_sha256) DO NOTHING`,
          [
            quarantine.map((q) => q.source),
            quarantine.map((q) => q.position),
            quarantine.map((q) => q.reason),
            quarantine.map((q) => printableDetail(q.detail)),
            raws.map((r) => r.bytes),
            raws.map((r) => r.sha256),
            quarantine.map((q) => q.received_at),
          ],
        );
      }
      if (redriven.length > 0) await client.query('DELETE FROM quarantine WHERE id = ANY($1::bigint[])', [redriven]);
      await client.query('COMMIT');
      return reference;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Each key's version to fold the batch against: the prior row where the winner was written; where
   * it was not, the row that beat it. That row may have been committed by another process after this
   * statement's snapshot (ON CONFLICT waits for it and compares with it), so it is read again — it is
   * locked by this transaction now and cannot move.
   */
  private async versions(client: pg.PoolClient, table: Table, rows: Plan['writes'][number]['rows'], result: Raw[]) {
    const winners = new Map(rows.map((r) => [keyString(r.key), r]));
    const versions = new Map<string, Version | null>();
    const unexplained: string[][] = [];
    for (const r of result) {
      const key = table.key.map((c) => String(r[c.name]));
      const prior = r['prior_instant'] === null ? null : { instant: Number(r['prior_instant']), fp: r['prior_fp'] as string };
      const winner = winners.get(keyString(key))!;
      if (r['written'] === true || (prior !== null && compareVersions(winner, prior) <= 0)) {
        versions.set(keyString(key), prior);
      } else {
        unexplained.push(key);
      }
    }
    if (unexplained.length > 0) {
      const current = await client.query(
        this.text(`${table.name}:current`, () => currentSql(table)),
        table.key.map((_, i) => unexplained.map((k) => k[i])),
      );
      for (const r of current.rows as Raw[]) {
        versions.set(keyString(table.key.map((c) => String(r[c.name]))), { instant: Number(r['instant']), fp: r['fp'] as string });
      }
    }
    return versions;
  }

  async select(table: Table, filter: Record<string, string>): Promise<StoredRow[]> {
    const names = Object.keys(filter).sort();
    const where = names.length === 0 ? '' : `WHERE ${names.map((n, i) => `${n} = $${i + 1}`).join(' AND ')}`;
    const sql = `SELECT * FROM ${table.name} ${where} ORDER BY ${table.key.map((c) => c.name).join(', ')}`;
    const result = await this.withClient((c) => c.query(sql, names.map((n) => filter[n])));
    return (result.rows as Raw[]).map((raw) => toStoredRow(table, raw));
  }

  async quarantineRows(): Promise<QuarantineDumpRow[]> {
    const result = await this.withClient((c) =>
      c.query('SELECT source, position, reason, detail, raw, raw_sha256 FROM quarantine'),
    );
    return (result.rows as Raw[]).map((r) => ({ ...(r as unknown as QuarantineDumpRow), ...listedRaw(r['raw'] as Buffer) }));
  }

  inspect(studentId: string, courseId?: string) {
    return inspect(this, studentId, courseId);
  }

  studentsWithSisId(sisId: string) {
    return studentsWithSisId(this, sisId);
  }

  courseRows(courseId: string) {
    return courseRows(this, courseId);
  }

  dump(): Promise<string> {
    return dump(this);
  }

  async listQuarantine({ limit, after }: { limit: number; after?: string }): Promise<StoredQuarantineEntry[]> {
    const result = await this.withClient((c) =>
      c.query(
        `SELECT id, source, position, reason, detail, raw, received_at FROM quarantine
         WHERE id > $1 ORDER BY id LIMIT $2`,
        [after ?? '0', limit],
      ),
    );
    return (result.rows as Raw[]).map((r) => ({
      id: String(r['id']),
      source: r['source'] as StoredQuarantineEntry['source'],
      position: r['position'] as string,
      reason: r['reason'] as StoredQuarantineEntry['reason'],
      detail: r['detail'] as string,
      ...listedRaw(r['raw'] as Buffer),
      received_at: new Date(Number(r['received_at'])).toISOString(),
    }));
  }

  async counts(): Promise<StateCounts> {
    const parts = TABLES.map((t) => `(SELECT count(*) FROM ${t.name}) AS ${t.kind}`);
    parts.push('(SELECT count(*) FROM quarantine) AS quarantine');
    const result = await this.withClient((c) => c.query(`SELECT ${parts.join(', ')}`));
    const row = result.rows[0] as Raw;
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as StateCounts;
  }

  async assignmentNames(ids: readonly string[]): Promise<Map<string, string>> {
    const result = await this.withClient((c) => c.query('SELECT assignment_id::text AS id, name FROM assignment_names WHERE assignment_id = ANY($1::bigint[])', [ids]));
    return new Map((result.rows as Raw[]).map((r) => [r['id'] as string, r['name'] as string]));
  }

  async shards(): Promise<string[]> {
    const result = await this.withClient((c) =>
      c.query(`SELECT DISTINCT root_account_id / 10000000000000 AS shard FROM course_root_accounts WHERE root_account_id >= 10000000000000 ORDER BY shard`),
    );
    return (result.rows as Raw[]).map((r) => String(r['shard']));
  }

  async changeWatermark(): Promise<string> {
    return this.withClient(async (c) => {
      // Exclusive: waits until every writer that may hold a change number has committed or rolled back.
      await c.query('SELECT pg_advisory_lock($1)', [SEQ_LOCK]);
      try {
        const r = await c.query('SELECT last_value, is_called FROM gradestream_change_seq');
        const row = r.rows[0] as Raw;
        return row['is_called'] ? String(row['last_value']) : '0';
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [SEQ_LOCK]);
      }
    });
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }
}

async function migrate(client: pg.PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const applied = new Set(
      ((await client.query('SELECT version FROM schema_migrations')).rows as Raw[]).map((r) => Number(r['version'])),
    );
    const newest = Math.max(0, ...applied);
    const known = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));
    if (newest > known) {
      throw new Error(`the state store's schema (version ${newest}) is newer than this gradestream knows (${known})`);
    }
    for (const m of POSTGRES_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export async function openPostgresStore(url: string): Promise<StateStore> {
  const shown = redact(url);
  const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000, application_name: 'gradestream' });
  // An idle connection that dies emits 'error' on the pool; the next query reports it as unavailable.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw translate(err, shown);
  }
  return new PostgresStore(pool, shown);
}
