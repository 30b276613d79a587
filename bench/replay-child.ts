import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { main } from '../src/cli/main.js';
import { readLineBatches } from '../src/cli/lines.js';
import { intakeText, type NormalisedEvent } from '../src/intake/index.js';
import { DEFAULT_BATCH_SIZE } from '../src/cli/replay.js';
import { compareVersions } from '../src/state/fingerprint.js';
import { plan } from '../src/state/fold.js';
import { ingest, type Message } from '../src/sources/ingest.js';
import { openStore } from '../src/state/store.js';
import { slot } from '../src/state/sqlite-fold.js';
import type { Table, Value } from '../src/state/tables.js';

/**
 * One contender of the replay benchmark, run in its own process so that its peak RSS is its own:
 *
 *   parse FILE                       JSON.parse of every line, read by the replay's line reader
 *   ceiling FILE                     read, intake and plan as replay does, no store: its upper bound
 *   replay FILE STATE_URL [BATCH]    exactly `gradestream replay FILE --state STATE_URL --json [--batch-size BATCH]`
 *   fill FILE STATE_URL COUNT        folds the first COUNT lines as replay does (the naive fold's starting point)
 *   naive FILE PATH SKIP LIMIT       the naive fold into SQLite, one transaction per event, of LIMIT lines
 *                                    after the first SKIP (timed: those only)
 *
 * (`node dist-bench/bench/replay-child.js MODE …`.) Prints one JSON line on stdout: {events, seconds,
 * cpuSeconds, maxRssKiB, counts?}. Wall and CPU time (all the process's threads) are taken around the
 * work only, not Node's start-up; maxRSS is process.resourceUsage().maxRSS (KiB) at exit.
 */

interface ChildResult {
  events: number;
  seconds: number;
  /** user + system CPU time of the whole process */
  cpuSeconds: number;
  maxRssKiB: number;
  counts?: Record<string, number>;
}

async function parseAlone(file: string): Promise<{ events: number }> {
  let events = 0;
  let sink = 0;
  for await (const lines of readLineBatches([file], process.stdin)) {
    for (const { text } of lines) {
      sink += (JSON.parse(text) as { body?: object }).body ? 1 : 0;
      events += 1;
    }
  }
  if (sink === -1) console.error(sink);
  return { events };
}

/** Everything replay does before the store: read, intake, plan the fold of each batch. */
async function ceiling(file: string): Promise<{ events: number }> {
  let events = 0;
  let sink = 0;
  let records: NormalisedEvent[] = [];
  for await (const lines of readLineBatches([file], process.stdin)) {
    for (const { text } of lines) {
      const verdict = intakeText(text);
      if (verdict.outcome === 'valid') records.push(verdict.record);
      events += 1;
      if (records.length === DEFAULT_BATCH_SIZE) {
        sink += plan(records).writes.length;
        records = [];
      }
    }
  }
  sink += plan(records).writes.length;
  if (sink === -1) console.error(sink);
  return { events };
}

async function replay(file: string, stateUrl: string, batchSize?: string): Promise<{ events: number; counts: Record<string, number> }> {
  let out = '';
  let err = '';
  const collect = (write: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        write(chunk.toString('utf8'));
        done();
      },
    });
  const args = ['replay', file, '--state', stateUrl, '--json', ...(batchSize === undefined ? [] : ['--batch-size', batchSize])];
  const code = await main(args, {
    stdin: process.stdin,
    stdout: collect((s) => (out += s)),
    stderr: collect((s) => (err += s)),
    env: { PATH: process.env['PATH'] ?? '' }, // the bench's state URL only, whatever the caller's environment
  });
  if (code !== 0) throw new Error(`gradestream replay exited ${code}: ${err.trim()}`);
  const counts = JSON.parse(out) as Record<string, number>;
  return { events: counts['received']!, counts };
}

/**
 * What a straightforward implementation would do: for each event, in its own transaction, read the
 * stored row of each key it touches, compare (instant, fingerprint) in JS, then UPDATE or INSERT. Same
 * intake, same rows (`plan` of the one record), same schema and pragmas as the store.
 */
async function naive(file: string, path: string, skip: number, limit: number): Promise<Timed & { counts: Record<string, number> }> {
  await (await openStore(`sqlite:${path}`)).close(); // creates the schema with the store's own migrations, if `fill` did not
  const db = new Database(path);
  db.defaultSafeIntegers(true);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const bind = (type: string, v: Value): unknown => (v === null ? null : type === 'id' ? BigInt(v as string) : type === 'bool' ? (v ? 1n : 0n) : v);
  const statements = new Map<Table, { get: Database.Statement; insert: Database.Statement; update: Database.Statement }>();
  const prepared = (t: Table) => {
    let s = statements.get(t);
    if (s === undefined) {
      const keys = t.key.map((c) => c.name);
      const vals = t.values.map((c) => c.name);
      const where = keys.map((k) => `${k} = ?`).join(' AND ');
      s = {
        get: db.prepare(`SELECT instant, lower(hex(fp)) AS fp, seq FROM ${t.name} WHERE ${where}`), // fingerprints are stored as bytes
        insert: db.prepare(`INSERT INTO ${t.name} (${[...keys, ...vals, 'instant', 'fp', 'seq'].join(', ')}) VALUES (${[...keys, ...vals, 'instant', 'fp', 'seq'].map(slot).join(', ')})`),
        update: db.prepare(`UPDATE ${t.name} SET ${[...vals, 'instant', 'fp', 'seq'].map((c) => `${c} = ${slot(c)}`).join(', ')} WHERE ${where}`),
      };
      statements.set(t, s);
    }
    return s;
  };
  const getSeq = db.prepare(`SELECT value FROM meta WHERE name = 'change_seq'`);
  const setSeq = db.prepare(`UPDATE meta SET value = ? WHERE name = 'change_seq'`);
  const counts = { received: 0, applied: 0, stale: 0, duplicate: 0, ignored: 0, quarantined: 0 };
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  let skipped = 0;
  let start: { wall: bigint; cpu: NodeJS.CpuUsage } | undefined;
  events: for await (const batch of readLineBatches([file], process.stdin)) {
    for (const { text } of batch) {
      if (skipped < skip) {
        skipped += 1; // folded by `fill` beforehand
        continue;
      }
      start ??= { wall: process.hrtime.bigint(), cpu: process.cpuUsage() };
      if (counts.received >= limit) break events;
      counts.received += 1;
      const verdict = intakeText(text);
      if (verdict.outcome !== 'valid') {
        counts[verdict.outcome === 'ignored' ? 'ignored' : 'quarantined'] += 1;
        continue;
      }
      begin.run();
      let seq = (getSeq.get() as { value: bigint }).value;
      let outcome: 'applied' | 'stale' | 'duplicate' | undefined;
      for (const { table, rows } of plan([verdict.record]).writes) {
        const s = prepared(table);
        for (const row of rows) {
          const keyParams = row.key.map((k, i) => bind(table.key[i]!.type, k));
          const stored = s.get.get(...keyParams) as { instant: bigint; fp: string } | undefined;
          const order = stored === undefined ? 1 : compareVersions(row, { instant: Number(stored.instant), fp: stored.fp });
          if (table.seqOnValueChangeOnly === false) outcome = order > 0 ? 'applied' : order === 0 ? 'duplicate' : 'stale';
          if (order <= 0) continue;
          const values = row.values.map((v, i) => bind(table.values[i]!.type, v));
          seq += 1n;
          if (stored === undefined) s.insert.run(...keyParams, ...values, BigInt(row.instant), row.fp, seq);
          else s.update.run(...values, BigInt(row.instant), row.fp, seq, ...keyParams);
        }
      }
      setSeq.run(seq);
      commit.run();
      counts[outcome!] += 1;
    }
  }
  db.close();
  const cpu = process.cpuUsage(start?.cpu);
  const seconds = start === undefined ? 0 : Number(process.hrtime.bigint() - start.wall) / 1e9;
  return { events: counts.received, counts, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** Folds the first `count` lines as replay does (batches through `ingest`): the store the naive fold starts from. */
async function fill(file: string, stateUrl: string, count: number): Promise<{ events: number }> {
  const store = await openStore(stateUrl);
  let events = 0;
  let batch: Message[] = [];
  try {
    for await (const lines of readLineBatches([file], process.stdin)) {
      for (const { file: f, line, text } of lines) {
        if (events === count) break;
        events += 1;
        batch.push({ text, source: 'replay', position: `${f}:${line}` });
        if (batch.length === DEFAULT_BATCH_SIZE) {
          await ingest(store, batch);
          batch = [];
        }
      }
      if (events === count) break;
    }
    if (batch.length > 0) await ingest(store, batch);
  } finally {
    await store.close();
  }
  return { events };
}

/** A contender that times only part of its run reports that part. */
interface Timed {
  events: number;
  seconds: number;
  cpuSeconds: number;
}

const [mode, file, target, ...numbers] = process.argv.slice(2);
const needsTarget = mode === 'replay' || mode === 'naive' || mode === 'fill';
if (!(needsTarget || mode === 'parse' || mode === 'ceiling') || file === undefined || (needsTarget && target === undefined)) {
  console.error(
    'usage: replay-child.js parse FILE | ceiling FILE | replay FILE STATE_URL [BATCH_SIZE] | fill FILE STATE_URL COUNT | naive FILE SQLITE_PATH SKIP LIMIT',
  );
  process.exit(2);
}
const start = process.hrtime.bigint();
const startCpu = process.cpuUsage();
const done: { events: number; seconds?: number; cpuSeconds?: number; counts?: Record<string, number> } =
  mode === 'parse'
    ? await parseAlone(file)
    : mode === 'ceiling'
      ? await ceiling(file)
      : mode === 'replay'
        ? await replay(file, target!, numbers[0])
        : mode === 'fill'
          ? await fill(file, target!, Number(numbers[0]))
          : await naive(file, target!, Number(numbers[0] ?? 0), Number(numbers[1] ?? Infinity));
const cpu = process.cpuUsage(startCpu);
const result: ChildResult = {
  seconds: Number(process.hrtime.bigint() - start) / 1e9,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  ...done,
  maxRssKiB: process.resourceUsage().maxRSS,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
