import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { compareIds } from '../intake/ids.js';
import { compareVersions, type Version } from './fingerprint.js';
import { outcomes, plan, type Outcome, type Plan, type Reference } from './fold.js';
import { CONNECTION, type HasConnection, type StoreConnection } from './connection.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import type { Batch, OpenOptions, StateCounts, StateStore, StoredQuarantineEntry } from './store.js';
import { TABLES, keyString, printableDetail, type Column, type StoredRow, type Table, type Value, type WriteRow } from './tables.js';
import { dump, inspect, type QuarantineDumpRow, type RowReader } from './view.js';

/**
 * The embedded backend: one SQLite file, one writer at a time (BEGIN IMMEDIATE), so each batch
 * reads the stored versions and writes the winners in a plain loop of prepared statements. WAL with
 * synchronous=NORMAL: a commit survives a process crash (the case that matters here: a source only
 * acknowledges after commit); a power loss may lose the last commits, which the sources then redeliver.
 * Every integer is read as BigInt: ids exceed 2^53.
 */

type Raw = Record<string, unknown>;

/** SQLite result codes that mean "try again later", not "this batch is wrong". */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT)/;

function translate(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT.test(code)) {
    return new StoreUnavailableError(`state store unavailable: ${(err as Error).message} (${code})`, { cause: err });
  }
  return err;
}

const bind = (type: Column['type'], value: Value): unknown => {
  if (value === null) return null;
  if (type === 'id') return BigInt(value as string);
  if (type === 'bool') return value ? 1n : 0n;
  return value;
};

const read = (type: Column['type'], value: unknown): Value => {
  if (value === null || value === undefined) return null;
  if (type === 'id') return (value as bigint).toString();
  if (type === 'bool') return value !== 0n;
  if (type === 'score') return Number(value);
  return value as string;
};

function toStoredRow(table: Table, raw: Raw): StoredRow {
  const row: Record<string, Value> = {};
  for (const c of [...table.key, ...table.values]) row[c.name] = read(c.type, raw[c.name]);
  return { ...row, instant: Number(raw['instant']), fp: raw['fp'] as string, seq: String(raw['seq']) };
}

interface TableStatements {
  version: Database.Statement;
  upsert: Database.Statement;
}

class SqliteStore implements StateStore, RowReader, HasConnection {
  private readonly statements = new Map<Table, TableStatements>();
  private readonly selects = new Map<string, Database.Statement>();
  private readonly getSeq: Database.Statement;
  private readonly setSeq: Database.Statement;
  private readonly insertQuarantine: Database.Statement;
  private readonly applyTx: Database.Transaction<(p: Plan, q: Batch['quarantine'], redriven: readonly string[]) => Reference>;
  private readonly deleteQuarantine: Database.Statement;
  /** The sync engine's way in (src/state/sqlite-sync.ts). */
  readonly [CONNECTION]: StoreConnection;

  constructor(
    private readonly db: Database.Database,
    readonly url: string,
  ) {
    this[CONNECTION] = { kind: 'sqlite', db };
    this.getSeq = db.prepare(`SELECT value FROM meta WHERE name = 'change_seq'`);
    this.setSeq = db.prepare(`UPDATE meta SET value = ? WHERE name = 'change_seq'`);
    this.insertQuarantine = db.prepare(
      `INSERT INTO quarantine (source, position, reason, detail, raw, raw_sha256, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, position, raw_sha256) DO NOTHING`,
    );
    for (const table of TABLES) this.statements.set(table, this.prepareTable(table));
    this.deleteQuarantine = db.prepare(`DELETE FROM quarantine WHERE id = ?`);
    this.applyTx = db.transaction((p, q, redriven) => this.write(p, q, redriven));
  }

  private prepareTable(table: Table): TableStatements {
    const keys = table.key.map((c) => c.name);
    const cols = [...keys, ...table.values.map((c) => c.name), 'instant', 'fp', 'seq'];
    const t = table.name;
    return {
      // Only what the fold compares: the version, the change number, and (for mappings) the values.
      version: this.db
        .prepare(
          `SELECT instant, fp, seq${table.seqOnValueChangeOnly ? table.values.map((c) => `, ${c.name}`).join('') : ''}
           FROM ${t} WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')}`,
        )
        .raw(true),
      // The WHERE repeats the rule the loop already applied: the table never goes back in time.
      upsert: this.db.prepare(
        `INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
         ON CONFLICT (${keys.join(', ')}) DO UPDATE SET
           ${cols.filter((c) => !keys.includes(c)).map((c) => `${c} = excluded.${c}`).join(', ')}
         WHERE (excluded.instant, excluded.fp) > (${t}.instant, ${t}.fp)`,
      ),
    };
  }

  /** The body of one transaction: fold the winners, advance the change counter, keep the quarantine. */
  private write(p: Plan, quarantine: Batch['quarantine'], redriven: readonly string[]): Reference {
    let next = (this.getSeq.get() as Raw)['value'] as bigint;
    const reference: Reference = new Map();
    for (const { table, rows } of p.writes) {
      const { version, upsert } = this.statements.get(table)!;
      const versions = new Map<string, Version | null>();
      // In key order: neighbouring rows share B-tree pages, which the previous row just brought in.
      for (const row of [...rows].sort(byKey)) {
        const keyParams = row.key.map((k, i) => bind(table.key[i]!.type, k));
        const stored = version.get(...keyParams) as unknown[] | undefined;
        const prior: Version | null = stored === undefined ? null : { instant: Number(stored[0]), fp: stored[1] as string };
        versions.set(keyString(row.key), prior);
        if (prior !== null && compareVersions(row, prior) <= 0) continue;
        const keepSeq = stored !== undefined && table.seqOnValueChangeOnly && sameValues(table, stored, row);
        const rowSeq = keepSeq ? (stored[2] as bigint) : (next += 1n);
        upsert.run(
          ...keyParams,
          ...row.values.map((v, i) => bind(table.values[i]!.type, v)),
          BigInt(row.instant),
          row.fp,
          rowSeq,
        );
      }
      reference.set(table.name, versions);
    }
    this.setSeq.run(next);
    for (const q of quarantine) {
      this.insertQuarantine.run(q.source, q.position, q.reason, printableDetail(q.detail), q.raw, sha256(q.raw), BigInt(q.received_at));
    }
    for (const id of redriven) this.deleteQuarantine.run(BigInt(id));
    return reference;
  }

  async apply(batch: Batch): Promise<Outcome[]> {
    const p = plan(batch.records);
    let reference: Reference;
    try {
      // IMMEDIATE: take the write lock up front, so two processes wait on busy_timeout instead of
      // failing to upgrade a read lock half-way.
      reference = this.applyTx.immediate(p, batch.quarantine, batch.redriven ?? []);
    } catch (err) {
      throw translate(err);
    }
    return outcomes(p, reference);
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
    return this.db
      .prepare(`SELECT source, position, reason, detail, raw, raw_sha256 FROM quarantine`)
      .all() as QuarantineDumpRow[];
  }

  inspect(studentId: string, courseId?: string) {
    return inspect(this, studentId, courseId);
  }

  dump(): Promise<string> {
    return dump(this);
  }

  async listQuarantine({ limit, after }: { limit: number; after?: string }): Promise<StoredQuarantineEntry[]> {
    const rows = this.db
      .prepare(
        `SELECT id, source, position, reason, detail, raw, received_at FROM quarantine
         WHERE id > ? ORDER BY id LIMIT ?`,
      )
      .all(BigInt(after ?? '0'), BigInt(limit)) as Raw[];
    return rows.map((r) => ({
      id: String(r['id']),
      source: r['source'] as StoredQuarantineEntry['source'],
      position: r['position'] as string,
      reason: r['reason'] as StoredQuarantineEntry['reason'],
      detail: r['detail'] as string,
      raw: r['raw'] as string,
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

  async changeWatermark(): Promise<string> {
    // One writer at a time: whatever is committed is complete up to the counter.
    return String((this.getSeq.get() as Raw)['value']);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Whether a stored row (instant, fp, seq, then the values, as selected by `version`) holds the row's values. */
function sameValues(table: Table, stored: unknown[], row: WriteRow): boolean {
  return table.values.every((c, i) => read(c.type, stored[3 + i]) === row.values[i]);
}

/** Rows in their table's primary-key order (near enough: the -1 of "no grading period" sorts among two-digit ids). */
function byKey(a: WriteRow, b: WriteRow): number {
  for (let i = 0; i < a.key.length; i++) {
    const order = compareIds(a.key[i]!, b.key[i]!);
    if (order !== 0) return order;
  }
  return 0;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

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
    db.defaultSafeIntegers(true);
    db.pragma('busy_timeout = 10000');
    if (path !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_CANTOPEN') {
      throw new StoreUnavailableError(`cannot open state store sqlite:${path}: ${(err as Error).message}`, { cause: err });
    }
    throw translate(err);
  }
  return new SqliteStore(db, `sqlite:${path}`);
}
