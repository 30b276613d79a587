import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/**
 * The sync (SPEC §3–§6) at scale: a state of 5,000,000 keys is written straight into the state tables
 * (bench/sync-state.ts) and synced once to a `file:` sink (setup, also reported). Then, each round:
 * 1,000,000 of its keys change and are synced as CSV; a sync right after finds nothing changed; another
 * 1,000,000 change and go out as JSON Lines (about 5 minutes on SQLite, 5 more on PostgreSQL, 2 cores).
 * Every sync is exactly `gradestream sync ID --json` in a
 * child process of its own (bench/sync-child.ts), so that its peak RSS (maxRSS) is its own; each
 * figure is the median over the rounds, by wall clock and by the child's CPU time. SQLite, then
 * PostgreSQL on a scratch database. Environment:
 *
 *   GRADESTREAM_BENCH_SYNC_KEYS       keys in the state (5,000,000)
 *   GRADESTREAM_BENCH_SYNC_ROWS       keys changed before each timed sync (1,000,000)
 *   GRADESTREAM_BENCH_PG_SYNC_KEYS    keys in the PostgreSQL state (GRADESTREAM_BENCH_SYNC_KEYS); 0 skips PostgreSQL
 *   GRADESTREAM_BENCH_PG_SYNC_ROWS    keys changed there (GRADESTREAM_BENCH_SYNC_ROWS)
 *   GRADESTREAM_BENCH_ROUNDS          rounds (3)
 *   GRADESTREAM_BENCH_PG_ROUNDS       rounds on PostgreSQL (1: each takes about two minutes there, the
 *                                     server sharing the cores)
 *   GRADESTREAM_BENCH_POSTGRES_URL (else GRADESTREAM_TEST_POSTGRES_URL)  a server where the bench may
 *     create and drop scratch databases (`bash scripts/services.sh up postgres`)
 *
 * Targets (issue #4): at least 200,000 rows/s and a peak RSS under 300 MB for the 1,000,000-row sync,
 * and a no-change sync of the 5,000,000-key state under 2 s.
 */

const CHILD = fileURLToPath(new URL('./sync-child.js', import.meta.url));

interface StepResult {
  rows: number;
  seconds: number;
  cpuSeconds: number;
  maxRssKiB: number;
  entry?: { held?: Record<string, number>; batch?: string | null };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (kib: number) => (kib * 1024) / 1e6;
const envNumber = (name: string, fallback: number, min = 1): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}=${raw}: expected a whole number >= ${min}`);
  return n;
};

function runChild(args: string[]): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench sync child ${args[0]} exited ${code}: ${err.trim()}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as StepResult);
    });
  });
}

async function admin<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`bench sync: cannot connect to PostgreSQL at ${new URL(url).host}: ${(err as Error).message} (is it up?)`);
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function scratchDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gradestream_bench_sync_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  await admin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined) };
}

interface Figure {
  name: string;
  rows: number;
  seconds: number;
  cpuSeconds: number;
  peakRssKiB: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function figure(name: string, runs: StepResult[]): Figure {
  return {
    name,
    rows: runs[0]!.rows,
    seconds: median(runs.map((r) => r.seconds)),
    cpuSeconds: median(runs.map((r) => r.cpuSeconds)),
    peakRssKiB: Math.max(...runs.map((r) => r.maxRssKiB)),
  };
}

interface BackendFigures {
  initial: Figure;
  csv: Figure;
  jsonl: Figure;
  none: Figure;
  held: number;
}

/** The whole sequence on one store. */
async function measure(label: string, stateUrl: string, dir: string, keys: number, changed: number, rounds: number): Promise<BackendFigures> {
  const outbox = join(dir, `outbox-${label}`);
  mkdirSync(outbox);
  const schedules = join(dir, 'schedules.json');
  const log = (s: string) => console.error(`bench sync [${label}]: ${s}`);
  const sync = async (schedule: string, what: string): Promise<StepResult> => {
    const r = await runChild(['sync', stateUrl, schedules, `file:${outbox}`, schedule]);
    const bytes = readdirSync(outbox).reduce((n, f) => n + statSync(join(outbox, f)).size, 0);
    log(
      `${what}: ${fmt(r.rows)} rows in ${r.seconds.toFixed(2)} s (CPU ${r.cpuSeconds.toFixed(2)} s), ` +
        `${fmt(r.rows / r.seconds)} rows/s, peak RSS ${mb(r.maxRssKiB).toFixed(0)} MB, file ${(bytes / 1e6).toFixed(0)} MB`,
    );
    for (const f of readdirSync(outbox)) rmSync(join(outbox, f));
    return r;
  };

  const built = await runChild(['build', stateUrl, String(keys), String(keys)]);
  log(`state of ${fmt(keys)} keys written (${fmt(built.rows)} rows) in ${built.seconds.toFixed(1)} s`);
  const initial = await sync('bench-csv', `initial sync, ${fmt(keys)} new keys`);
  const held = Object.values(initial.entry?.held ?? {}).reduce((a, b) => a + b, 0);
  const runs = { csv: [] as StepResult[], jsonl: [] as StepResult[], none: [] as StepResult[] };
  let version = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const format of ['csv', 'jsonl'] as const) {
      const c = await runChild(['change', stateUrl, String(keys), String(keys), '0', String(changed), String((version += 1))]);
      log(`round ${round}: ${fmt(changed)} keys changed (${c.seconds.toFixed(1)} s)`);
      const r = await sync(`bench-${format}`, `round ${round}, ${format}`);
      if (r.rows !== changed) throw new Error(`bench sync: ${fmt(changed)} keys changed but the sync sent ${fmt(r.rows)} rows`);
      runs[format].push(r);
      if (format === 'csv') {
        const none = await sync('bench-csv', `round ${round}, nothing changed`);
        if (none.rows !== 0) throw new Error(`bench sync: nothing changed but the sync sent ${fmt(none.rows)} rows`);
        runs.none.push(none);
      }
    }
  }
  return {
    initial: figure(`initial sync, ${fmt(keys)} new keys → file:, CSV`, [initial]),
    csv: figure(`${fmt(changed)} changed rows → file:, CSV`, runs.csv),
    jsonl: figure(`${fmt(changed)} changed rows → file:, JSON Lines`, runs.jsonl),
    none: figure(`nothing changed, ${fmt(keys)} keys`, runs.none),
    held,
  };
}

function printTable(title: string, f: BackendFigures): void {
  console.log(`\n${title}`);
  console.log(
    `  ${'sync'.padEnd(48)} ${'rows'.padStart(10)} ${'wall s'.padStart(8)} ${'rows/s'.padStart(10)} ${'CPU s'.padStart(8)} ` +
      `${'rows/CPU s'.padStart(10)} ${'peak RSS'.padStart(9)}`,
  );
  for (const r of [f.initial, f.csv, f.jsonl, f.none]) {
    const rate = (s: number) => (r.rows === 0 ? '—' : fmt(r.rows / s));
    console.log(
      `  ${r.name.padEnd(48)} ${fmt(r.rows).padStart(10)} ${r.seconds.toFixed(2).padStart(8)} ${rate(r.seconds).padStart(10)} ` +
        `${r.cpuSeconds.toFixed(2).padStart(8)} ${rate(r.cpuSeconds).padStart(10)} ${`${mb(r.peakRssKiB).toFixed(0)} MB`.padStart(9)}`,
    );
  }
}

function targets(label: string, f: BackendFigures): string {
  const rate = f.csv.rows / f.csv.seconds;
  const rss = mb(f.csv.peakRssKiB);
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  return (
    `  targets (${label}): ${fmt(f.csv.rows)}-row CSV sync ${fmt(rate)} rows/s (>= 200,000: ${verdict(rate >= 200_000)}), ` +
    `peak RSS ${rss.toFixed(0)} MB (< 300 MB: ${verdict(rss < 300)}); no-change sync ${f.none.seconds.toFixed(2)} s ` +
    `(< 2 s: ${verdict(f.none.seconds < 2)})`
  );
}

export async function benchSync(): Promise<void> {
  const keys = envNumber('GRADESTREAM_BENCH_SYNC_KEYS', 5_000_000);
  const changed = Math.min(keys, envNumber('GRADESTREAM_BENCH_SYNC_ROWS', 1_000_000));
  const pgKeys = envNumber('GRADESTREAM_BENCH_PG_SYNC_KEYS', keys, 0);
  const pgChanged = Math.min(pgKeys, envNumber('GRADESTREAM_BENCH_PG_SYNC_ROWS', changed));
  const rounds = envNumber('GRADESTREAM_BENCH_ROUNDS', 3);
  const pgRounds = envNumber('GRADESTREAM_BENCH_PG_ROUNDS', 1);
  const adminUrl = process.env['GRADESTREAM_BENCH_POSTGRES_URL'] || process.env['GRADESTREAM_TEST_POSTGRES_URL'];
  if (pgKeys > 0 && !adminUrl) {
    throw new Error(
      'bench sync: no PostgreSQL server. Start one with `bash scripts/services.sh up postgres` and ' +
        '`eval "$(bash scripts/services.sh env postgres)"`, or set GRADESTREAM_BENCH_PG_SYNC_KEYS=0 to skip it.',
    );
  }
  if (pgKeys > 0) await admin(adminUrl!, (c) => c.query('SELECT 1'));

  const dir = mkdtempSync(join(tmpdir(), 'gradestream-bench-sync-'));
  let drop: (() => Promise<void>) | undefined;
  try {
    const base = { hourOfDay: 2, timeZone: 'UTC', postedBy: 'bench' };
    writeFileSync(
      join(dir, 'schedules.json'),
      JSON.stringify({ schedules: [{ id: 'bench-csv', ...base }, { id: 'bench-jsonl', ...base, format: 'jsonl' }] }),
    );
    const sqlite = await measure('SQLite', `sqlite:${join(dir, 'state', 'gradestream.db')}`, dir, keys, changed, rounds);
    printTable(
      `Sync to a file: sink, SQLite, a state of ${fmt(keys)} keys (${fmt(sqlite.held)} held: unposted), median of ${rounds} rounds, each sync in its own process`,
      sqlite,
    );
    let postgres: BackendFigures | undefined;
    if (pgKeys > 0) {
      const db = await scratchDatabase(adminUrl!);
      drop = db.drop;
      postgres = await measure('PostgreSQL', db.url, dir, pgKeys, pgChanged, pgRounds);
      printTable(
        `Sync to a file: sink, PostgreSQL (server on the same cores), a state of ${fmt(pgKeys)} keys (${fmt(postgres.held)} held), median of ${pgRounds} round(s)`,
        postgres,
      );
    }
    console.log(targets('SQLite', sqlite));
    if (postgres !== undefined) console.log(targets('PostgreSQL', postgres));
  } finally {
    await drop?.().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
