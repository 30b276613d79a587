import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { outcomes, plan, type Outcome } from './fold.js';
import { CONNECTION, type HasConnection, type StoreConnection } from './connection.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import type { Batch, OpenOptions, StateCounts, StateStore, StoredQuarantineEntry } from './store.js';
import { bind, configure, read, translate, writeRequest } from './sqlite-fold.js';
import { inlineWriter, workerWriter, type FoldWriter } from './sqlite-writer.js';
import { listedRaw, TABLES, type StoredRow, type Table, type Value } from './tables.js';
import { courseRows, dump, inspect, studentsWithSisId, type QuarantineDumpRow, type RowReader } from './view.js';

/**
 * The embedded backend: one SQLite file. This connection reads (inspect, dump, the sync engine's
 * own tables); the fold is planned here and written by a FoldWriter (src/state/sqlite-writer.ts),
 * on a worker thread with a connection of its own. Every integer is read as BigInt: ids exceed 2^53.
 */

type Raw = Record<string, unknown>;

/** A stored message as listed: raw_bytes is there only when the bytes are not the UTF-8 of raw. */
const listed = (r: Raw, bytes: unknown): { raw: string; raw_base64?: string } =>
  bytes == null ? { raw: r['raw'] as string } : listedRaw(bytes as Buffer);

function toStoredRow(table: Table, raw: Raw): StoredRow {
  const row: Record<string, Value> = {};
  for (const c of [...table.key, ...table.values]) row[c.name] = read(c.type, raw[c.name]);
  return { ...row, instant: Number(raw['instant']), fp: (raw['fp'] as Buffer).toString('hex'), seq: String(raw['seq']) };
}

class SqliteStore implements StateStore, RowReader, HasConnection {
  private readonly selects = new Map<string, Database.Statement>();
  private readonly getSeq: Database.Statement;
  /** The sync engine's way in (src/state/sqlite-sync.ts). */
  readonly [CONNECTION]: StoreConnection;

  constructor(
    private readonly db: Database.Database,
    private readonly writer: FoldWriter,
    readonly url: string,
  ) {
    this[CONNECTION] = { kind: 'sqlite', db };
    this.getSeq = db.prepare(`SELECT value FROM meta WHERE name = 'change_seq'`);
  }

  apply(batch: Batch): Promise<Outcome[]> {
    // Planned here, written by the writer (a worker thread for a file) while this thread goes on. Not
    // async: only the records' keys and versions are kept while the writer works, not the batch or the
    // rows it was sent (what lives across the wait outlives the young generation, and costs collections).
    try {
      const p = plan(batch.records, batch.mappings);
      const planned = p.records;
      return this.writer.write(writeRequest(p, batch)).then((reference) => outcomes(planned, reference));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async select(table: Table, filter: Record<string, string>): Promise<StoredRow[]> {
    const columns = [...table.key, ...table.values];
    const names = Object.keys(filter).sort();
    const cacheKey = `${table.name}?${names.join('&')}`;
    let stmt = this.selects.get(cacheKey);
    if (stmt === undefined) {
      const where = names.length === 0 ? '' : `WHERE ${names.map((n) => `${n} = ?`).join(' AND ')}`;
      stmt = this.db.prepare(`SELECT * FROM ${table.name} ${where} ORDER BY ${table.key.map((c) => c.name).join(', ')}`);
      this.selects.set(cacheKey, stmt);
    }
    const params = names.map((n) => bind(columns.find((c) => c.name === n)!.type, filter[n]!));
    try {
      return (stmt.all(...params) as Raw[]).map((raw) => toStoredRow(table, raw));
    } catch (err) {
      throw translate(err);
    }
  }

  async quarantineRows(): Promise<QuarantineDumpRow[]> {
    const rows = this.db.prepare(`SELECT source, position, reason, detail, raw, raw_bytes, raw_sha256 FROM quarantine`).all() as Raw[];
    return rows.map(({ raw_bytes, ...r }) => ({ ...(r as unknown as QuarantineDumpRow), ...listed(r, raw_bytes) }));
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
    const rows = this.db
      .prepare(
        `SELECT id, source, position, reason, detail, raw, raw_bytes, received_at FROM quarantine
         WHERE id > ? ORDER BY id LIMIT ?`,
      )
      .all(BigInt(after ?? '0'), BigInt(limit)) as Raw[];
    return rows.map((r) => ({
      id: String(r['id']),
      source: r['source'] as StoredQuarantineEntry['source'],
      position: r['position'] as string,
      reason: r['reason'] as StoredQuarantineEntry['reason'],
      detail: r['detail'] as string,
      ...listed(r, r['raw_bytes']),
      received_at: new Date(Number(r['received_at'])).toISOString(),
    }));
  }

  async counts(): Promise<StateCounts> {
    const counts = {} as StateCounts;
    for (const table of TABLES) {
      counts[table.kind] = Number((this.db.prepare(`SELECT count(*) AS n FROM ${table.name}`).get() as Raw)['n']);
    }
    counts.quarantine = Number((this.db.prepare(`SELECT count(*) AS n FROM quarantine`).get() as Raw)['n']);
    return counts;
  }

  async assignmentNames(ids: readonly string[]): Promise<Map<string, string>> {
    const stmt = this.db.prepare(`SELECT assignment_id, name FROM assignment_names WHERE assignment_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))`);
    const names = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 10_000) {
      for (const r of stmt.all(JSON.stringify(ids.slice(i, i + 10_000))) as Raw[]) names.set(String(r['assignment_id']), r['name'] as string);
    }
    return names;
  }

  async shards(): Promise<string[]> {
    const rows = this.db
      .prepare(`SELECT DISTINCT root_account_id / 10000000000000 AS shard FROM course_root_accounts WHERE root_account_id >= 10000000000000 ORDER BY shard`)
      .all() as Raw[];
    return rows.map((r) => String(r['shard']));
  }

  async changeWatermark(): Promise<string> {
    // One writer at a time: whatever is committed is complete up to the counter.
    return String((this.getSeq.get() as Raw)['value']);
  }

  async close(): Promise<void> {
    await this.writer.close();
    if (this.db.open) this.db.close();
  }
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`);
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as Raw[]).map((r) => Number(r['version'])),
    );
    const newest = Math.max(0, ...applied);
    const known = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));
    if (newest > known) {
      throw new Error(`the state store's schema (version ${newest}) is newer than this gradestream knows (${known})`);
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        BigInt(m.version),
        m.name,
        new Date().toISOString(),
      );
    }
  }).immediate();
}

export function openSqliteStore(path: string, options: OpenOptions = {}): StateStore {
  if (options.mustExist && path !== ':memory:' && !existsSync(path)) {
    throw new StoreUnavailableError(`no state store at sqlite:${path} (nothing folded into it yet?)`);
  }
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: options.mustExist === true });
    configure(db, path === ':memory:');
    migrate(db);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_CANTOPEN') {
      throw new StoreUnavailableError(`cannot open state store sqlite:${path}: ${(err as Error).message}`, { cause: err });
    }
    throw translate(err);
  }
  return new SqliteStore(db, path === ':memory:' ? inlineWriter(db) : workerWriter(path), `sqlite:${path}`);
}
