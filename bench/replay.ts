import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateEvents } from './generate.js';

/**
 * The whole replay path (read lines → intake → fold → commit, exactly `gradestream replay`) against
 * JSON.parse alone over the same lines, and against a naive fold (one transaction per event,
 * read-then-write in JS), side by side in one run; into SQLite and PostgreSQL; with the same replay on
 * a quarter of the events to show that peak RSS does not grow with the input; and the work replay does
 * before the store (read, intake, plan) as its ceiling. Every contender runs in its own child process
 * (bench/replay-child.ts) so that its peak RSS is its own (`process.resourceUsage().maxRSS`); the
 * contenders alternate over the rounds and each one's median rate is kept, by wall clock and by the
 * child's own CPU time (less sensitive to whatever else the machine runs). The events are written to a
 * temporary JSON Lines file first, streaming. Environment:
 *
 *   GRADESTREAM_BENCH_POSTGRES_URL (else GRADESTREAM_TEST_POSTGRES_URL)  a server on which the bench
 *     may create and drop scratch databases (required: `bash scripts/services.sh up postgres`)
 *   GRADESTREAM_BENCH_REPLAY_EVENTS  events in the big file (1,000,000); the small one has a quarter
 *   GRADESTREAM_BENCH_NAIVE_EVENTS   events the naive fold replays (100,000, it is slow: the file's last
 *                                    ones, on a store already holding the others)
 *   GRADESTREAM_BENCH_ROUNDS         rounds (3)
 */

const CHILD = fileURLToPath(new URL('./replay-child.js', import.meta.url));

interface ChildResult {
  events: number;
  seconds: number;
  cpuSeconds: number;
  maxRssKiB: number;
  counts?: Record<string, number>;
}

interface Contender {
  name: string;
  /** the child's arguments for one run, and what to remove afterwards */
  prepare(round: number): Promise<{ args: string[]; cleanup(): Promise<void> }>;
}

interface Measured {
  name: string;
  events: number;
  perSecond: number;
  /** events per second of the child's own CPU time (user + system): less sensitive to other load */
  perCpuSecond: number;
  peakRssKiB: number;
  counts?: Record<string, number>;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}=${raw}: expected a positive integer`);
  return n;
};

function postgresAdminUrl(): string {
  const url = process.env['GRADESTREAM_BENCH_POSTGRES_URL'] || process.env['GRADESTREAM_TEST_POSTGRES_URL'];
  if (!url) {
    throw new Error(
      'bench replay: no PostgreSQL server. Start one with `bash scripts/services.sh up postgres` and ' +
        '`eval "$(bash scripts/services.sh env postgres)"` (sets GRADESTREAM_TEST_POSTGRES_URL), or set ' +
        'GRADESTREAM_BENCH_POSTGRES_URL to a server where the bench may create scratch databases.',
    );
  }
  return url;
}

async function admin<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `bench replay: cannot connect to PostgreSQL at ${new URL(url).host}: ${(err as Error).message} ` +
        '(is it up? `bash scripts/services.sh up postgres`)',
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the server, for one run; removed afterwards. */
async function scratchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gradestream_bench_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function finish(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

/**
 * Writes `count` generated events to `big` as JSON Lines, and the first `small` of them to `smallPath`,
 * streaming (a thousand lines per write; never the whole file in memory).
 */
async function writeEvents(count: number, bigPath: string, small: number, smallPath: string): Promise<void> {
  const big = createWriteStream(bigPath);
  const little = createWriteStream(smallPath);
  let chunk: string[] = [];
  let i = 0;
  for (const event of generateEvents({ count })) {
    chunk.push(event);
    i += 1;
    if (chunk.length === 1000 || i === count) {
      const text = `${chunk.join('\n')}\n`;
      await write(big, text);
      if (i <= small) await write(little, text);
      chunk = [];
    }
  }
  await Promise.all([finish(big), finish(little)]);
}

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench child ${args[0]} exited ${code}: ${err.trim()}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

function printReplayTable(title: string, results: Measured[], parseName: string, naiveName: string): void {
  const parse = results.find((r) => r.name === parseName)!;
  const naive = results.find((r) => r.name === naiveName)!;
  console.log(`\n${title}`);
  console.log(
    `  ${'contender'.padEnd(48)} ${'events'.padStart(10)} ${'events/s'.padStart(10)}  ${'vs JSON.parse'.padStart(13)}  ` +
      `${'(CPU time)'.padStart(10)}  ${'vs naive'.padStart(8)}  ${'peak RSS'.padStart(9)}`,
  );
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(48)} ${fmt(r.events).padStart(10)} ${fmt(r.perSecond).padStart(10)}  ` +
        `${(r.perSecond / parse.perSecond).toFixed(2).padStart(13)}  ${(r.perCpuSecond / parse.perCpuSecond).toFixed(2).padStart(10)}  ` +
        `${`${(r.perSecond / naive.perSecond).toFixed(1)}×`.padStart(8)}  ${`${(r.peakRssKiB / 1024).toFixed(0)} MiB`.padStart(9)}`,
    );
  }
}

export async function benchReplay(): Promise<void> {
  const count = envNumber('GRADESTREAM_BENCH_REPLAY_EVENTS', 1_000_000);
  const naiveCount = Math.min(count, envNumber('GRADESTREAM_BENCH_NAIVE_EVENTS', 100_000));
  const rounds = envNumber('GRADESTREAM_BENCH_ROUNDS', 3);
  const small = Math.max(1, Math.floor(count / 4));
  const adminUrl = postgresAdminUrl();
  await admin(adminUrl, (c) => c.query('SELECT 1')); // fail now, not after generating a gigabyte

  const dir = mkdtempSync(join(tmpdir(), 'gradestream-bench-replay-'));
  const scratch: (() => Promise<void>)[] = [];
  try {
    const bigFile = join(dir, `events-${count}.jsonl`);
    const smallFile = join(dir, `events-${small}.jsonl`);
    console.error(`bench replay: writing ${fmt(count)} generated events to ${bigFile} …`);
    await writeEvents(count, bigFile, small, smallFile);
    console.error(`bench replay: ${(statSync(bigFile).size / 1e9).toFixed(2)} GB; ${rounds} rounds of 6 child processes`);

    const sqliteRun = (file: string, label: string) => async (round: number) => {
      const stateDir = join(dir, `${label}-${round}`);
      mkdirSync(stateDir);
      return { args: ['replay', file, `sqlite:${join(stateDir, 'gradestream.db')}`], cleanup: async () => rmSync(stateDir, { recursive: true, force: true }) };
    };
    const names = {
      parse: 'JSON.parse alone (same line reader)',
      ceiling: 'read + intake + plan, no store (ceiling)',
      sqlite: 'replay → SQLite',
      postgres: 'replay → PostgreSQL',
      naive: `naive fold → SQLite, 1 tx/event, last ${fmt(naiveCount)}`,
      small: `replay → SQLite, ${fmt(small)} events`,
    };
    const contenders: Contender[] = [
      { name: names.parse, prepare: async () => ({ args: ['parse', bigFile], cleanup: async () => undefined }) },
      { name: names.ceiling, prepare: async () => ({ args: ['ceiling', bigFile], cleanup: async () => undefined }) },
      { name: names.sqlite, prepare: sqliteRun(bigFile, 'sqlite') },
      {
        name: names.postgres,
        prepare: async () => {
          const db = await scratchDatabase(adminUrl);
          scratch.push(db.drop);
          return { args: ['replay', bigFile, db.url], cleanup: db.drop };
        },
      },
      {
        // On the last events of the file, into a store that already holds the others (folded by the
        // fast path, untimed): its tables are then as large as those the replays end with.
        name: names.naive,
        prepare: async (round) => {
          const stateDir = join(dir, `naive-${round}`);
          mkdirSync(stateDir);
          const path = join(stateDir, 'naive.db');
          await runChild(['fill', bigFile, `sqlite:${path}`, String(count - naiveCount)]);
          return {
            args: ['naive', bigFile, path, String(count - naiveCount), String(naiveCount)],
            cleanup: async () => rmSync(stateDir, { recursive: true, force: true }),
          };
        },
      },
      { name: names.small, prepare: sqliteRun(smallFile, 'small') },
    ];

    const runs = new Map<string, ChildResult[]>(contenders.map((c) => [c.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const c of contenders) {
        const { args, cleanup } = await c.prepare(round);
        try {
          const r = await runChild(args);
          runs.get(c.name)!.push(r);
          console.error(
            `bench replay: round ${round}/${rounds} ${c.name}: ${fmt(r.events / r.seconds)} events/s, ` +
              `${r.seconds.toFixed(1)} s (CPU ${r.cpuSeconds.toFixed(1)} s), peak RSS ${(r.maxRssKiB / 1024).toFixed(0)} MiB`,
          );
        } finally {
          await cleanup();
        }
      }
    }

    const results: Measured[] = contenders.map((c) => {
      const rs = runs.get(c.name)!;
      const rates = rs.map((r) => r.events / r.seconds).sort((a, b) => a - b);
      const cpuRates = rs.map((r) => r.events / r.cpuSeconds).sort((a, b) => a - b);
      return {
        name: c.name,
        events: rs[0]!.events,
        perSecond: rates[Math.floor(rates.length / 2)]!,
        perCpuSecond: cpuRates[Math.floor(cpuRates.length / 2)]!,
        peakRssKiB: Math.max(...rs.map((r) => r.maxRssKiB)),
        ...(rs[0]!.counts === undefined ? {} : { counts: rs[0]!.counts }),
      };
    });
    printReplayTable(
      `Replay, ${fmt(count)} generated events (~200,000 keys), median of ${rounds} rounds, each contender in its own process`,
      results,
      names.parse,
      names.naive,
    );

    const get = (name: string) => results.find((r) => r.name === name)!;
    const sqlite = get(names.sqlite);
    const toParse = sqlite.perSecond / get(names.parse).perSecond;
    const toNaive = sqlite.perSecond / get(names.naive).perSecond;
    const growth = sqlite.peakRssKiB / get(names.small).peakRssKiB;
    console.log(`  targets: SQLite replay vs JSON.parse ${toParse.toFixed(2)} (>= 0.35: ${toParse >= 0.35 ? 'met' : 'MISSED'}), ` +
      `vs naive fold ${toNaive.toFixed(1)}× (>= 5×: ${toNaive >= 5 ? 'met' : 'MISSED'})`);
    console.log(
      `  peak RSS, SQLite replay: ${fmt(small)} events ${(get(names.small).peakRssKiB / 1024).toFixed(0)} MiB, ` +
        `${fmt(count)} events ${(sqlite.peakRssKiB / 1024).toFixed(0)} MiB (×${growth.toFixed(2)} for ×${(count / small).toFixed(0)} the events)`,
    );
    const pgCounts = JSON.stringify(get(names.postgres).counts);
    console.log(`  counts: ${JSON.stringify(sqlite.counts)}${pgCounts === JSON.stringify(sqlite.counts) ? ' (SQLite and PostgreSQL agree)' : `; PostgreSQL DIFFERS: ${pgCounts}`}`);
  } finally {
    for (const drop of scratch) await drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
