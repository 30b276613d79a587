import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import { compareIds } from '../intake/ids.js';
import { compareVersions, type Version } from './fingerprint.js';
import type { Plan, Reference } from './fold.js';
import type { Batch } from './store.js';
import { TABLES, keyString, printableDetail, type Column, type Table, type Value, type WriteRow } from './tables.js';

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
}

/** What a writer needs of a batch: each table's winners (by table name, so that it crosses threads cheaply), quarantine, re-driven ids. */
export interface WriteRequest {
  writes: readonly { name: string; rows: readonly WriteRow[] }[];
  quarantine: Batch['quarantine'];
  redriven: readonly string[];
}

export const writeRequest = (p: Plan, batch: Batch): WriteRequest => ({
  writes: p.writes.map((w) => ({ name: w.table.name, rows: w.rows })),
  quarantine: batch.quarantine,
  redriven: batch.redriven ?? [],
});

export type WriteBatch = (requests: readonly WriteRequest[]) => Reference[];

/** A key's rows offered by the requests of one transaction, in request order (`by`: the request of each). */
interface Offer {
  key: string;
  row: WriteRow;
  by: number[];
  rows: WriteRow[];
}

/**
 * Prepares the fold's statements on `db` and returns the batch writer, to call inside a transaction
 * begun IMMEDIATE (the write lock taken up front, so that two writers wait on busy_timeout instead of
 * failing to upgrade a read lock half-way). Throws what SQLite throws, untranslated.
 */
export function foldWriter(db: Database.Database): WriteBatch {
  const getSeq = db.prepare(`SELECT value FROM meta WHERE name = 'change_seq'`);
  const setSeq = db.prepare(`UPDATE meta SET value = ? WHERE name = 'change_seq'`);
  const insertQuarantine = db.prepare(
    `INSERT INTO quarantine (source, position, reason, detail, raw, raw_sha256, received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, position, raw_sha256) DO NOTHING`,
  );
  const deleteQuarantine = db.prepare(`DELETE FROM quarantine WHERE id = ?`);
  const statements = new Map<string, TableStatements>(TABLES.map((t) => [t.name, prepareTable(db, t)]));

  /**
   * Folds several requests in one transaction, as if one after the other: each key is written once,
   * with the greatest version of all, and each request is answered with the versions it would have
   * met (the stored one, then the winners of the requests before it).
   */
  const write = (requests: readonly WriteRequest[]): Reference[] => {
    let next = (getSeq.get() as Raw)['value'] as bigint;
    const references: Reference[] = requests.map(() => new Map());
    const versionsOf = (j: number, table: string): Map<string, Version | null> => {
      let versions = references[j]!.get(table);
      if (versions === undefined) references[j]!.set(table, (versions = new Map()));
      return versions;
    };
    for (const table of TABLES) {
      const offers = new Map<string, Offer>();
      requests.forEach(({ writes }, j) => {
        for (const row of writes.find((w) => w.name === table.name)?.rows ?? []) {
          const key = keyString(row.key);
          const held = offers.get(key);
          if (held === undefined) offers.set(key, { key, row, by: [j], rows: [row] });
          else {
            held.by.push(j);
            held.rows.push(row);
          }
        }
      });
      if (offers.size === 0) continue;
      const { version, upsert } = statements.get(table.name)!;
      // In key order: neighbouring rows share B-tree pages, which the previous row just brought in.
      for (const offer of [...offers.values()].sort(byKey)) {
        const { key, row } = offer;
        if (offer.rows.length === 1 && !table.seqOnValueChangeOnly && row.contested !== true) {
          // Written first, read only if it lost: most rows are new or newer, and the one record that
          // offered this row is then simply applied (see Reference).
          const values = row.values.map((v, i) => param(table.values[i]!.type, v));
          if (upsert.run(...row.key, ...values, row.instant, row.fp, next + 1n).changes > 0) {
            next += 1n;
            versionsOf(offer.by[0]!, table.name).set(key, null);
          } else {
            const stored = version.get(...row.key) as unknown[];
            versionsOf(offer.by[0]!, table.name).set(key, { instant: Number(stored[0]), fp: stored[1] as string });
          }
          continue;
        }
        const stored = version.get(...row.key) as unknown[] | undefined;
        const prior: Version | null = stored === undefined ? null : { instant: Number(stored[0]), fp: stored[1] as string };
        let current: Version | null = prior;
        let winner: WriteRow | undefined;
        offer.rows.forEach((r, i) => {
          versionsOf(offer.by[i]!, table.name).set(key, current);
          if (current === null || compareVersions(r, current) > 0) current = winner = r;
        });
        if (winner === undefined) continue;
        const keepSeq = stored !== undefined && table.seqOnValueChangeOnly && sameValues(table, stored, winner);
        const rowSeq = keepSeq ? (stored[2] as bigint) : (next += 1n);
        const values = winner.values.map((v, i) => param(table.values[i]!.type, v));
        upsert.run(...winner.key, ...values, winner.instant, winner.fp, rowSeq);
      }
    }
    setSeq.run(next);
    for (const { quarantine, redriven } of requests) {
      for (const q of quarantine) {
        insertQuarantine.run(q.source, q.position, q.reason, printableDetail(q.detail), q.raw, sha256(q.raw), BigInt(q.received_at));
      }
      for (const id of redriven) deleteQuarantine.run(BigInt(id));
    }
    return references;
  };
  return write;
}

function prepareTable(db: Database.Database, table: Table): TableStatements {
  const keys = table.key.map((c) => c.name);
  const cols = [...keys, ...table.values.map((c) => c.name), 'instant', 'fp', 'seq'];
  const t = table.name;
  return {
    // Only what the fold compares: the version, the change number, and (for mappings) the values.
    version: db
      .prepare(
        `SELECT instant, fp, seq${table.seqOnValueChangeOnly ? table.values.map((c) => `, ${c.name}`).join('') : ''}
         FROM ${t} WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')}`,
      )
      .raw(true),
    // The WHERE repeats the rule the loop already applied: the table never goes back in time.
    upsert: db.prepare(
      `INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
       ON CONFLICT (${keys.join(', ')}) DO UPDATE SET
         ${cols.filter((c) => !keys.includes(c)).map((c) => `${c} = excluded.${c}`).join(', ')}
       WHERE (excluded.instant, excluded.fp) > (${t}.instant, ${t}.fp)`,
    ),
  };
}

/** Whether a stored row (instant, fp, seq, then the values, as selected by `version`) holds the row's values. */
function sameValues(table: Table, stored: unknown[], row: WriteRow): boolean {
  return table.values.every((c, i) => read(c.type, stored[3 + i]) === row.values[i]);
}

/** Rows in their table's primary-key order (near enough: the -1 of "no grading period" sorts among two-digit ids). */
function byKey({ row: a }: Offer, { row: b }: Offer): number {
  for (let i = 0; i < a.key.length; i++) {
    const order = compareIds(a.key[i]!, b.key[i]!);
    if (order !== 0) return order;
  }
  return 0;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
