import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore } from '../src/state/store.js';
import { slot } from '../src/state/sqlite-fold.js';

/**
 * A synthetic compacted state for the sync benchmark, written straight into the state tables (folding
 * millions of events through replay would take longer than the sync it prepares). Every key is a
 * global index n; the layout is a pure function of n, so the bench can add keys and change values of
 * existing ones later. The columns the sync engine reads "what changed" by are kept consistent: every
 * row has its own change number `seq` and the store's watermark (SQLite meta.change_seq, PostgreSQL
 * gradestream_change_seq) is the highest one written.
 *
 * Per course: 40 students; a course row for each (course score, plus an override without grading
 * period for every 8th student, which merges into the same feed row), an override with a grading
 * period for every 20th (a feed row of its own), and 20 assignments × 40 students. Each student takes
 * 4 courses. Every student and course has its SIS id and root account (mappings come first, below
 * every record's seq), so nothing is held for a mapping; 1 % of assignment grades are unposted (held).
 */

const STUDENTS_PER_COURSE = 40;
const ASSIGNMENTS_PER_COURSE = 20;
const PERIOD_SLOTS = Math.ceil(STUDENTS_PER_COURSE / 20);
const BLOCK = STUDENTS_PER_COURSE + PERIOD_SLOTS + STUDENTS_PER_COURSE * ASSIGNMENTS_PER_COURSE;
const COURSES_PER_STUDENT = 4;

const SHARD = 2107n * 10n ** 13n;
const ROOT = SHARD + 1n;
const COURSE_BASE = SHARD + 100_000n;
const STUDENT_BASE = SHARD + 10_000_000n;
const ASSIGNMENT_BASE = SHARD + 1_000_000_000n;
const PERIOD = SHARD + 47n;
const T0 = Date.UTC(2026, 0, 5);

export type BenchKey =
  | { kind: 'course'; n: number; course: bigint; student: bigint; override: boolean }
  | { kind: 'period'; n: number; course: bigint; student: bigint }
  | { kind: 'assignment'; n: number; course: bigint; student: bigint; assignment: bigint; muted: boolean };

export interface Layout {
  /** keys in the whole benchmark (the mappings cover all of them from the start) */
  totalKeys: number;
  courses: number;
  students: number;
}

export function layout(totalKeys: number): Layout {
  const courses = Math.ceil(totalKeys / BLOCK);
  return { totalKeys, courses, students: Math.max(STUDENTS_PER_COURSE, (courses * STUDENTS_PER_COURSE) / COURSES_PER_STUDENT) };
}

export function keyAt(l: Layout, n: number): BenchKey {
  const c = Math.floor(n / BLOCK);
  const r = n % BLOCK;
  const course = COURSE_BASE + BigInt(c);
  const studentOf = (i: number) => STUDENT_BASE + BigInt((c * (STUDENTS_PER_COURSE / COURSES_PER_STUDENT) + i) % l.students);
  if (r < STUDENTS_PER_COURSE) return { kind: 'course', n, course, student: studentOf(r), override: r % 8 === 0 };
  if (r < STUDENTS_PER_COURSE + PERIOD_SLOTS) return { kind: 'period', n, course, student: studentOf((r - STUDENTS_PER_COURSE) * 20) };
  const a = r - STUDENTS_PER_COURSE - PERIOD_SLOTS;
  const assignment = ASSIGNMENT_BASE + BigInt(c * ASSIGNMENTS_PER_COURSE + Math.floor(a / STUDENTS_PER_COURSE));
  return { kind: 'assignment', n, course, student: studentOf(a % STUDENTS_PER_COURSE), assignment, muted: n % 100 === 37 };
}

/** A score that differs for every (key, version): 0.0 to 99.9. */
const scoreOf = (n: number, version: number): number => ((n * 7 + version * 331) % 1000) / 10;
const instantOf = (n: number, version: number): bigint => BigInt(T0 + version * 86_400_000 + (n % 86_400) * 1000);

/** One row per table a key writes, as [table, column values in TABLE_COLUMNS order]. */
function rowsOf(k: BenchKey, version: number, seq: bigint): [keyof typeof TABLE_COLUMNS, unknown[]][] {
  const score = scoreOf(k.n, version);
  const instant = instantOf(k.n, version);
  const fp = version.toString(16).padStart(64, '0'); // a fingerprint's form: 64 hex digits
  switch (k.kind) {
    case 'assignment':
      return [
        [
          'assignment_scores',
          [k.assignment, k.student, k.course, BigInt(k.n), score, String(score), 100, 1n, k.muted ? 1n : 0n, null, instant, fp, seq],
        ],
      ];
    case 'course': {
      const rows: [keyof typeof TABLE_COLUMNS, unknown[]][] = [
        ['course_scores', [k.course, k.student, score, score - 0.5, score, score - 0.5, 'active', instant, fp, seq]],
      ];
      if (k.override) rows.push(['course_overrides', [k.course, k.student, -1n, 90, instant, fp, seq]]);
      return rows;
    }
    case 'period':
      return [['course_overrides', [k.course, k.student, PERIOD, score, instant, fp, seq]]];
  }
}

const TABLE_COLUMNS = {
  assignment_scores: [
    'assignment_id', 'student_id', 'course_id', 'submission_id', 'score', 'grade', 'points_possible', 'grading_complete', 'muted',
    'grader_id', 'instant', 'fp', 'seq',
  ],
  course_scores: [
    'course_id', 'student_id', 'current_score', 'final_score', 'unposted_current_score', 'unposted_final_score', 'workflow_state',
    'instant', 'fp', 'seq',
  ],
  course_overrides: ['course_id', 'student_id', 'grading_period_id', 'override_score', 'instant', 'fp', 'seq'],
  student_sis_ids: ['student_id', 'student_sis_id', 'instant', 'fp', 'seq'],
  course_sis_ids: ['course_id', 'course_sis_id', 'instant', 'fp', 'seq'],
  course_root_accounts: ['course_id', 'root_account_id', 'instant', 'fp', 'seq'],
} as const;

const KEY_COLUMNS: Record<keyof typeof TABLE_COLUMNS, number> = {
  assignment_scores: 2,
  course_scores: 2,
  course_overrides: 3,
  student_sis_ids: 1,
  course_sis_ids: 1,
  course_root_accounts: 1,
};

const FP0 = '0'.repeat(64);

/** Every mapping row, then the rows of keys [0, keys). */
function* initialRows(l: Layout, keys: number): Generator<[keyof typeof TABLE_COLUMNS, unknown[]]> {
  let seq = 0n;
  for (let s = 0; s < l.students; s++) {
    yield ['student_sis_ids', [STUDENT_BASE + BigInt(s), `S${String(s).padStart(7, '0')}`, BigInt(T0), FP0, (seq += 1n)]];
  }
  for (let c = 0; c < l.courses; c++) {
    const course = COURSE_BASE + BigInt(c);
    yield ['course_sis_ids', [course, `C-${String(c).padStart(6, '0')}.2026`, BigInt(T0), FP0, (seq += 1n)]];
    yield ['course_root_accounts', [course, ROOT, BigInt(T0), FP0, (seq += 1n)]];
  }
  for (let n = 0; n < keys; n++) for (const row of rowsOf(keyAt(l, n), 0, (seq += 1n))) yield row;
}

/**
 * The keys a change touches: `added` new keys after the `existing` ones, and `updated` existing keys
 * spread evenly over them (posted ones only, so each is a row to send), with `version`'s values.
 */
function* changedRows(l: Layout, existing: number, added: number, updated: number, version: number, seq: bigint): Generator<[keyof typeof TABLE_COLUMNS, unknown[]]> {
  // One key in every `stride`, from an offset that moves with the version.
  const stride = updated === 0 ? 1 : Math.max(1, Math.floor(existing / updated));
  let done = 0;
  for (let n = version % stride; done < updated && n < existing; n += stride) {
    let k = keyAt(l, n);
    if (k.kind === 'assignment' && k.muted) k = keyAt(l, n + 1 < existing ? n + 1 : n - 1); // a neighbour is posted
    done += 1;
    for (const row of rowsOf(k, version, (seq += 1n))) yield row;
  }
  if (done < updated) throw new Error(`bench: could only pick ${done} of ${updated} keys to update`);
  for (let n = existing; n < existing + added; n++) for (const row of rowsOf(keyAt(l, n), version, (seq += 1n))) yield row;
}

/** How many change numbers a change uses (one per key). */
export const changeSeqs = (added: number, updated: number): number => added + updated;

export interface StateWriter {
  /** The store's change watermark now. */
  watermark(): Promise<bigint>;
  /** Upserts the rows and moves the watermark to `to`. */
  write(rows: Iterable<[keyof typeof TABLE_COLUMNS, unknown[]]>, to: bigint): Promise<number>;
  close(): Promise<void>;
}

function upsertSql(table: keyof typeof TABLE_COLUMNS, placeholders: string): string {
  const cols = TABLE_COLUMNS[table];
  const keys = cols.slice(0, KEY_COLUMNS[table]);
  return `INSERT INTO ${table} (${cols.join(', ')}) ${placeholders}
    ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${cols.slice(keys.length).map((c) => `${c} = excluded.${c}`).join(', ')}`;
}

async function sqliteWriter(path: string): Promise<StateWriter> {
  await (await openStore(`sqlite:${path}`)).close(); // the schema, by the store's own migrations
  const db = new Database(path);
  db.defaultSafeIntegers(true);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const statements = new Map<string, Database.Statement>();
  const stmt = (table: keyof typeof TABLE_COLUMNS) => {
    let s = statements.get(table);
    if (s === undefined) {
      const values = `VALUES (${TABLE_COLUMNS[table].map(slot).join(', ')})`;
      statements.set(table, (s = db.prepare(upsertSql(table, values))));
    }
    return s;
  };
  return {
    async watermark() {
      return (db.prepare(`SELECT value FROM meta WHERE name = 'change_seq'`).get() as { value: bigint }).value;
    },
    async write(rows, to) {
      let count = 0;
      const chunk = db.transaction((batch: [keyof typeof TABLE_COLUMNS, unknown[]][]) => {
        for (const [table, values] of batch) stmt(table).run(...values);
      });
      let batch: [keyof typeof TABLE_COLUMNS, unknown[]][] = [];
      for (const row of rows) {
        batch.push(row);
        count += 1;
        if (batch.length === 100_000) {
          chunk(batch);
          batch = [];
        }
      }
      chunk(batch);
      db.prepare(`UPDATE meta SET value = ? WHERE name = 'change_seq'`).run(to);
      db.pragma('wal_checkpoint(TRUNCATE)');
      return count;
    },
    async close() {
      db.close();
    },
  };
}

const PG_TYPES: Record<string, string> = {
  assignment_id: 'bigint', student_id: 'bigint', course_id: 'bigint', submission_id: 'bigint', grading_period_id: 'bigint',
  grader_id: 'bigint', root_account_id: 'bigint', instant: 'bigint', seq: 'bigint', score: 'float8', points_possible: 'float8',
  current_score: 'float8', final_score: 'float8', unposted_current_score: 'float8', unposted_final_score: 'float8',
  override_score: 'float8', grading_complete: 'boolean', muted: 'boolean', grade: 'text', fp: 'text', workflow_state: 'text',
  student_sis_id: 'text', course_sis_id: 'text',
};

async function postgresWriter(url: string): Promise<StateWriter> {
  await (await openStore(url)).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const flush = async (table: keyof typeof TABLE_COLUMNS, rows: unknown[][]) => {
    if (rows.length === 0) return;
    const cols = TABLE_COLUMNS[table];
    const arrays = cols.map((c, i) =>
      rows.map((r) => {
        const v = r[i];
        if (typeof v === 'bigint') return v.toString();
        if (PG_TYPES[c] === 'boolean') return v === 1n || v === true;
        return v;
      }),
    );
    const select = `SELECT * FROM unnest(${cols.map((c, i) => `$${i + 1}::${PG_TYPES[c]}[]`).join(', ')}) ORDER BY 1, 2`;
    await client.query(upsertSql(table, select), arrays);
  };
  return {
    async watermark() {
      const r = await client.query('SELECT last_value, is_called FROM gradestream_change_seq');
      const row = r.rows[0] as { last_value: string; is_called: boolean };
      return row.is_called ? BigInt(row.last_value) : 0n;
    },
    async write(rows, to) {
      let count = 0;
      const pending = new Map<keyof typeof TABLE_COLUMNS, unknown[][]>();
      await client.query('BEGIN');
      for (const [table, values] of rows) {
        let list = pending.get(table);
        if (list === undefined) pending.set(table, (list = []));
        list.push(values);
        count += 1;
        if (list.length === 20_000) {
          await flush(table, list);
          pending.set(table, []);
        }
      }
      for (const [table, list] of pending) await flush(table, list);
      await client.query('SELECT setval($1, $2)', ['gradestream_change_seq', to.toString()]);
      await client.query('COMMIT');
      await client.query('VACUUM ANALYZE');
      return count;
    },
    async close() {
      await client.end();
    },
  };
}

export const openWriter = (url: string): Promise<StateWriter> =>
  url.startsWith('sqlite:') ? sqliteWriter(url.slice('sqlite:'.length)) : postgresWriter(url);

/** Writes the mappings of the whole layout and the keys [0, keys). Returns the rows written. */
export async function buildState(url: string, l: Layout, keys: number): Promise<number> {
  const w = await openWriter(url);
  try {
    const mappings = BigInt(l.students + 2 * l.courses);
    return await w.write(initialRows(l, keys), mappings + BigInt(keys));
  } finally {
    await w.close();
  }
}

/** Adds keys [existing, existing + added) and changes `updated` existing ones to `version`'s values. */
export async function changeState(url: string, l: Layout, existing: number, added: number, updated: number, version: number): Promise<number> {
  const w = await openWriter(url);
  try {
    const from = await w.watermark();
    return await w.write(changedRows(l, existing, added, updated, version, from), from + BigInt(changeSeqs(added, updated)));
  } finally {
    await w.close();
  }
}
