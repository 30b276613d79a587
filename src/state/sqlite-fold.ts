import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { compareIds } from '../intake/ids.js';
import type { Version } from './fingerprint.js';
import type { Plan, Reference } from './fold.js';
import type { Batch } from './store.js';
import { TABLES, keyString, printableDetail, rawForms, type Column, type Table, type Value, type WriteRow } from './tables.js';

/**
 * The write half of the SQLite fold: the body of one transaction that writes the winners of one or
 * more planned batches where they beat the stored version, advances the change counter and keeps the
 * quarantine. It runs on whichever thread owns the writing connection: a worker for a file
 * (src/state/sqlite-worker.ts), the caller's own thread for `:memory:`. One writer at a time (BEGIN
 * IMMEDIATE), so it reads the stored versions and writes in a plain loop of prepared statements.
 */

type Raw = Record<string, unknown>;

/** SQLite result codes that mean "try again later", not "this batch is wrong". */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL|NOMEM|INTERRUPT)/;

export function translate(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TRANSIENT.test(code)) {
    return new StoreUnavailableError(`state store unavailable: ${(err as Error).message} (${code})`, { cause: err });
  }
  return err;
}

export const bind = (type: Column['type'], value: Value): unknown => {
  if (value === null) return null;
  if (type === 'id') return BigInt(value as string);
  if (type === 'bool') return value ? 1n : 0n;
  return value;
};

/**
 * A value as the fold binds it. Ids stay decimal strings: a STRICT INTEGER column converts them
 * exactly (intake has already checked they fit in 64 bits), which spares a BigInt per id.
 */
const param = (type: Column['type'], value: Value): unknown => (type === 'bool' && value !== null ? (value ? 1 : 0) : value);

export const read = (type: Column['type'], value: unknown): Value => {
  if (value === null || value === undefined) return null;
  if (type === 'id') return (value as bigint).toString();
  if (type === 'bool') return value !== 0n;
  if (type === 'score') return Number(value);
  return value as string;
};

/**
 * Connection settings shared by every connection to a state file. WAL with synchronous=NORMAL: a
 * commit survives a process crash (the case that matters: a source only acknowledges after commit); a
 * power loss may lose the last commits, which the sources then redeliver. The page cache is sized for
 * the fold's random keys (each batch touches pages all over the tables; the default 2 MB cache
 * re-reads them from the OS every batch), and checkpoints run every 16 MB of WAL rather than 4 MB, so
 * a page rewritten by several batches is copied back once. Every integer is read as BigInt: ids
 * exceed 2^53.
 */
export function configure(db: Database.Database, inMemory: boolean): void {
  db.defaultSafeIntegers(true);
  db.pragma('busy_timeout = 10000');
  if (!inMemory) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.pragma('wal_autocheckpoint = 4096');
}

interface TableStatements {
  version: Database.Statement;
  upsert: Database.Statement;
  /** With a steady column: sets it where the upsert found it changed. */
  move?: Database.Statement;
}

/**
 * Indexed value columns that hardly ever change: an assignment's course. SQLite rewrites an index
 * entry whenever its column is in an UPDATE's SET list, changed or not, which costs every update a
 * page of that index; so the upsert leaves the column out and reports whether the stored value
 * differs, and a second statement sets it then.
 */
const STEADY: Readonly<Record<string, string>> = { assignment_scores: 'course_id' };

/**
 * A row as the writer binds it: `[...key, ...values, instant, fp, seq]` in the table's column order,
 * booleans as 1/0, the seq slot filled by the writer (then, for a table with a STEADY column, that
 * column's value again). An array of scalars crosses to the writer thread cheaply and binds as it is,
 * with no object per row on either side.
 */
export type BoundRow = (Value | bigint)[];

/** One table's winners in one request, in key order, and which of them several records offered. */
export interface TableRows {
  name: string;
  rows: BoundRow[];
  /** Indexes into `rows` of the contested ones (see WriteRow.contested), ascending. */
  contested: number[];
}

/** What a writer needs of a batch: each table's winners, quarantine, re-driven ids. */
export interface WriteRequest {
  writes: readonly TableRows[];
  quarantine: Batch['quarantine'];
  redriven: readonly string[];
}

/** Where a table's STEADY column is among its values, or -1. */
const steadyAt = (table: Table): number => table.values.findIndex((c) => c.name === STEADY[table.name]);

const boundRow = (table: Table, steady: number, r: WriteRow): BoundRow => {
  const row: BoundRow = [...r.key];
  r.values.forEach((v, i) => row.push(param(table.values[i]!.type, v) as Value));
  row.push(r.instant, r.fp, 0n);
  if (steady >= 0) row.push(r.values[steady]!); // for the upsert's RETURNING
  return row;
};

/** The placeholder of a column in the state tables' INSERTs: SQLite stores a fingerprint's 32 bytes, bound as hex. */
export const slot = (column: string): string => (column === 'fp' ? 'unhex(?)' : '?');

/** Rows in their table's primary-key order (near enough: the -1 of "no grading period" sorts among two-digit ids). */
function byKey(a: WriteRow, b: WriteRow): number {
  for (let i = 0; i < a.key.length; i++) {
    const order = compareIds(a.key[i]!, b.key[i]!);
    if (order !== 0) return order;
  }
  return 0;
}

/**
 * Encodes a planned batch for the writer, on the caller's thread (which otherwise waits on the
 * writer): rows sorted by key, so that neighbouring rows share the B-tree pages the previous one
 * brought in.
 */
export function writeRequest(p: Plan, batch: Batch): WriteRequest {
  return {
    writes: p.writes.map(({ table, rows }) => {
      const sorted = [...rows].sort(byKey);
      const contested: number[] = [];
      sorted.forEach((r, i) => r.contested === true && contested.push(i));
      const steady = steadyAt(table);
      return { name: table.name, rows: sorted.map((r) => boundRow(table, steady, r)), contested };
    }),
    quarantine: batch.quarantine,
    redriven: batch.redriven ?? [],
  };
}

export type WriteBatch = (requests: readonly WriteRequest[]) => Reference[];

/**
 * Prepares the fold's statements on `db` and returns the batch writer, to call inside a transaction
 * begun IMMEDIATE (the write lock taken up front, so that two writers wait on busy_timeout instead of
 * failing to upgrade a read lock half-way). Throws what SQLite throws, untranslated.
 */
export function foldWriter(db: Database.Database): WriteBatch {
  const getSeq = db.prepare(`SELECT value FROM meta WHERE name = 'change_seq'`);
  const setSeq = db.prepare(`UPDATE meta SET value = ? WHERE name = 'change_seq'`);
  const insertQuarantine = db.prepare(
    `INSERT INTO quarantine (source, position, reason, detail, raw, raw_bytes, raw_sha256, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, position, raw_sha256) DO NOTHING`,
  );
  const deleteQuarantine = db.prepare(`DELETE FROM quarantine WHERE id = ?`);
  const statements = new Map<string, TableStatements>(TABLES.map((t) => [t.name, prepareTable(db, t)]));
  const tables = new Map(TABLES.map((t) => [t.name, t]));

  /**
   * Folds several requests in one transaction, one after the other, each as if alone: every row is
   * written where it beats the stored version (which may be a winner of a request before it), and
   * each request is answered with the versions it met where that decides an outcome (see Reference).
   */
  const write = (requests: readonly WriteRequest[]): Reference[] => {
    let next = (getSeq.get() as Raw)['value'] as bigint;
    const references = requests.map((): Reference => new Map());
    requests.forEach(({ writes }, j) => {
      for (const { name, rows, contested } of writes) {
        const table = tables.get(name)!;
        const { version, upsert, move } = statements.get(name)!;
        const keyLength = table.key.length;
        const seqAt = keyLength + table.values.length + 2;
        // Records' versions only: a mapping's decides no outcome.
        let met: Map<string, Version> | undefined;
        const note = (row: BoundRow, stored: unknown[] | undefined) => {
          if (stored === undefined || table.seqOnValueChangeOnly) return;
          if (met === undefined) references[j]!.set(name, (met = new Map()));
          met.set(keyString(row.slice(0, keyLength) as string[]), { instant: Number(stored[0]), fp: stored[1] as string });
        };
        let c = 0;
        rows.forEach((row, i) => {
          const isContested = contested[c] === i;
          // Several records offered this key: their outcomes are told against the version stored before.
          if (isContested) {
            c += 1;
            note(row, version.get(row.slice(0, keyLength)) as unknown[] | undefined);
          }
          row[seqAt] = next + 1n;
          // Written first, read only if it lost: most rows are new or newer (see Reference).
          const written = move === undefined ? upsert.run(row).changes > 0 : moved(upsert.get(row), move, row, keyLength, seqAt);
          if (written) next += 1n;
          else if (!isContested) note(row, version.get(row.slice(0, keyLength)) as unknown[]);
        });
      }
    });
    setSeq.run(next);
    for (const { quarantine, redriven } of requests) {
      for (const q of quarantine) {
        const raw = rawForms(q.raw);
        insertQuarantine.run(q.source, q.position, q.reason, printableDetail(q.detail), raw.text, raw.utf8 ? null : raw.bytes, raw.sha256, BigInt(q.received_at));
      }
      for (const id of redriven) deleteQuarantine.run(BigInt(id));
    }
    return references;
  };
  return write;
}

/**
 * Whether the upsert of a table with a STEADY column wrote (`changed`: its RETURNING, undefined if
 * not), after setting that column where it differs.
 */
function moved(changed: unknown, move: Database.Statement, row: BoundRow, keyLength: number, seqAt: number): boolean {
  if (changed === undefined) return false;
  if (changed === 1n) move.run(row[seqAt + 1], ...row.slice(0, keyLength));
  return true;
}

function prepareTable(db: Database.Database, table: Table): TableStatements {
  const keys = table.key.map((c) => c.name);
  const values = table.values.map((c) => c.name);
  const cols = [...keys, ...values, 'instant', 'fp', 'seq'];
  const t = table.name;
  // A mapping keeps its change number when taught the value it holds (see Table.seqOnValueChangeOnly).
  const seq = table.seqOnValueChangeOnly
    ? `CASE WHEN ${values.map((v) => `${t}.${v} IS excluded.${v}`).join(' AND ')} THEN ${t}.seq ELSE excluded.seq END`
    : 'excluded.seq';
  const steady = STEADY[t];
  const whereKey = keys.map((k) => `${k} = ?`).join(' AND ');
  const upsert = db.prepare(
    // The WHERE is the fold's rule: the table never goes back in time.
    `INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(slot).join(', ')})
     ON CONFLICT (${keys.join(', ')}) DO UPDATE SET
       ${[...values.filter((v) => v !== steady), 'instant', 'fp'].map((c) => `${c} = excluded.${c}`).join(', ')}, seq = ${seq}
     WHERE (excluded.instant, excluded.fp) > (${t}.instant, ${t}.fp)
     ${steady === undefined ? '' : `RETURNING ${steady} IS NOT CAST(? AS INTEGER)`}`,
  );
  return {
    // Only what the fold compares: the version. (The fingerprint is stored as its 32 bytes, bound and read as hex.)
    version: db.prepare(`SELECT instant, lower(hex(fp)) FROM ${t} WHERE ${whereKey}`).raw(true),
    upsert: steady === undefined ? upsert : upsert.pluck(),
    ...(steady === undefined ? {} : { move: db.prepare(`UPDATE ${t} SET ${steady} = ? WHERE ${whereKey}`) }),
  };
}

