import type { FeedFormat } from '../sinks/formats/format.js';
import type { FeedRow } from '../sync/feed-row.js';
import type { BatchRecord, HeldEntry, RunRecord } from '../sync/store.js';
import { NO_KEY, type Candidate, type HeldCounts, type HeldReason, type RecordType, type RowsBy } from '../sync/view.js';

/**
 * SQL and row conversions the two sync stores share (sqlite-sync.ts, postgres-sync.ts). Statements
 * are written with @name parameters; `named` turns them into PostgreSQL's $n. Values read back may be
 * BigInt (SQLite) or strings (PostgreSQL int8): the converters accept both.
 */

export type Raw = Record<string, unknown>;
export type Dialect = 'sqlite' | 'postgres';

/** @name → $n for PostgreSQL (with a cast where the type cannot be inferred); the names in order. */
export function named(sql: string, casts: Record<string, string> = {}): { text: string; names: string[] } {
  const names: string[] = [];
  const text = sql.replace(/@([a-z_][a-z0-9_]*)/g, (_, name: string) => {
    let i = names.indexOf(name);
    if (i === -1) i = names.push(name) - 1;
    const cast = casts[name];
    return `$${i + 1}${cast === undefined ? '' : `::${cast}`}`;
  });
  return { text, names };
}

/**
 * The selects whose union is a run's candidate keys (SPEC §3), as (record_type, k1, k2, k3):
 * - record rows changed in (@from, @to];
 * - for a changed course score, the course's override rows of that student too (its workflow_state
 *   decides whether they are visible);
 * - every record row of a student whose SIS id changed, and of a course whose SIS id or root account
 *   changed, in that range;
 * - the target's resend queue up to @mark.
 * Held rows are not candidates by themselves: a held row's decision depends only on its record, its
 * mappings and its ledger entry, and a change to any of those (a grade posted, a SIS id arriving, a
 * resend) makes it a candidate through the selects above. So a quiet night costs nothing however many
 * grades stay unposted.
 * Change numbers are indexed; SQLite is told to start from them (CROSS JOIN fixes the loop order).
 */
export function candidateSources(dialect: Dialect): string[] {
  const join = dialect === 'sqlite' ? 'CROSS JOIN' : 'JOIN';
  const range = (t: string) => `${t}.seq > @from AND ${t}.seq <= @to`;
  const sources = [
    `SELECT 'assignment' AS record_type, a.assignment_id AS k1, a.student_id AS k2, -1 AS k3 FROM assignment_scores a WHERE ${range('a')}`,
    `SELECT 'course', s.course_id, s.student_id, -1 FROM course_scores s WHERE ${range('s')}`,
    `SELECT 'course', o.course_id, o.student_id, o.grading_period_id FROM course_scores s
       ${join} course_overrides o ON o.course_id = s.course_id AND o.student_id = s.student_id WHERE ${range('s')}`,
    `SELECT 'course', o.course_id, o.student_id, o.grading_period_id FROM course_overrides o WHERE ${range('o')}`,
    // a student's SIS id changed
    `SELECT 'assignment', a.assignment_id, a.student_id, -1 FROM student_sis_ids m
       ${join} assignment_scores a ON a.student_id = m.student_id WHERE ${range('m')}`,
    `SELECT 'course', s.course_id, s.student_id, -1 FROM student_sis_ids m
       ${join} course_scores s ON s.student_id = m.student_id WHERE ${range('m')}`,
    `SELECT 'course', o.course_id, o.student_id, o.grading_period_id FROM student_sis_ids m
       ${join} course_overrides o ON o.student_id = m.student_id WHERE ${range('m')}`,
  ];
  // a course's SIS id or root account (the scope) changed
  for (const mapping of ['course_sis_ids', 'course_root_accounts']) {
    sources.push(
      `SELECT 'assignment', a.assignment_id, a.student_id, -1 FROM ${mapping} m
         ${join} assignment_scores a ON a.course_id = m.course_id WHERE ${range('m')}`,
      `SELECT 'course', s.course_id, s.student_id, -1 FROM ${mapping} m
         ${join} course_scores s ON s.course_id = m.course_id WHERE ${range('m')}`,
      `SELECT 'course', o.course_id, o.student_id, o.grading_period_id FROM ${mapping} m
         ${join} course_overrides o ON o.course_id = m.course_id WHERE ${range('m')}`,
    );
  }
  sources.push(`SELECT record_type, k1, k2, k3 FROM sync_queue WHERE target = @target AND id <= @mark`);
  return sources;
}

/**
 * The columns of a run's candidate view after its number (ord), as candidateView selects them: the key,
 * the course (an assignment record's own, else k1), mappings, ledger entry, held row, then the record
 * values of an assignment row (instant null: no record) or of a course row (the course score, and
 * the override of the key's grading period).
 */
export const VIEW_COLUMNS = [
  'record_type',
  'k1',
  'k2',
  'k3',
  'course_id',
  'course_sis_id',
  'student_sis_id',
  'root_account_id',
  'acked_digest',
  'acked_op',
  'held_reason',
  'held_changed_at',
  'held_root_account_id',
  'score',
  'grade',
  'points_possible',
  'grading_complete',
  'muted',
  'instant',
  'current_score',
  'final_score',
  'workflow_state',
  'score_instant',
  'override_score',
  'override_instant',
] as const;

/**
 * A run's candidates joined with everything their view depends on, and the SPEC §6 file order to
 * number them in (compareRows in feed-row.ts): course_sis_id, student_sis_id, record_type,
 * assignment_id (course rows have none: -1 sorts first, as null does), grading_period_id (k3, -1 for
 * none), course_id, student_id. Text compares by byte (SQLite's BINARY; COLLATE "C" in PostgreSQL),
 * which for UTF-8 is code point order, as in JS. Ids are never negative. The key fixes every one of
 * these, so no two candidates tie. Rows held for want of a SIS id (null) are numbered too: where does
 * not matter, they are not sent. `keys` is the (record_type, k1, k2, k3) relation, aliased c;
 * @target_id is the target's sync_targets.id (-1 when it has none: nothing acknowledged yet).
 */
export function candidateView(dialect: Dialect, keys: string): { columns: string; from: string; order: string } {
  const c = dialect === 'postgres' ? ' COLLATE "C"' : '';
  const course = `CASE WHEN c.record_type = 'assignment' THEN a.course_id ELSE c.k1 END`;
  const key = (t: string, target: string) =>
    `${t}.${target} AND ${t}.record_type = c.record_type AND ${t}.k1 = c.k1 AND ${t}.k2 = c.k2 AND ${t}.k3 = c.k3`;
  return {
    columns: `c.record_type, c.k1, c.k2, c.k3, ${course}, cm.course_sis_id, sm.student_sis_id, ra.root_account_id,
      k.digest, k.op, h.reason, h.changed_at, h.root_account_id,
      a.score, a.grade, a.points_possible, a.grading_complete, a.muted, a.instant,
      s.current_score, s.final_score, s.workflow_state, s.instant, o.override_score, o.instant`,
    from: `${keys}
    LEFT JOIN assignment_scores a ON c.record_type = 'assignment' AND a.assignment_id = c.k1 AND a.student_id = c.k2
    LEFT JOIN course_scores s ON c.record_type = 'course' AND s.course_id = c.k1 AND s.student_id = c.k2
    LEFT JOIN course_overrides o ON c.record_type = 'course' AND o.course_id = c.k1 AND o.student_id = c.k2 AND o.grading_period_id = c.k3
    LEFT JOIN course_sis_ids cm ON cm.course_id = ${course}
    LEFT JOIN course_root_accounts ra ON ra.course_id = ${course}
    LEFT JOIN student_sis_ids sm ON sm.student_id = c.k2
    LEFT JOIN sync_acked k ON ${key('k', 'target_id = @target_id')}
    LEFT JOIN sync_held h ON ${key('h', 'target = @target')}`,
    order: `cm.course_sis_id${c}, sm.student_sis_id${c}, c.record_type${c}, CASE WHEN c.record_type = 'assignment' THEN c.k1 ELSE -1 END,
      c.k3, ${course}, c.k2`,
  };
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === true || v === 1n || v === 1 || v === '1');
const parsed = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(v as string) as T));

export function runFromRow(r: Raw): RunRecord {
  return {
    id: String(r['id']),
    kind: (r['kind'] as RunRecord['kind'] | undefined) ?? 'sync',
    schedule_id: r['schedule_id'] as string,
    trigger: r['trigger_type'] as RunRecord['trigger'],
    triggered_by: r['triggered_by'] as string,
    scheduled_for: num(r['scheduled_for']),
    started_at: Number(r['started_at']),
    locked_at: num(r['locked_at']),
    finished_at: num(r['finished_at']),
    status: r['status'] as RunRecord['status'],
    target: r['target'] as string,
    scope: r['scope'] as string,
    batch_id: text(r['batch_id']),
    batch_location: text(r['batch_location']),
    rows_by: parsed<RowsBy>(r['rows_by']),
    held: parsed<HeldCounts>(r['held_by']),
    error: text(r['error']),
    report: parsed<unknown>(r['report']),
  };
}

export function batchFromRow(r: Raw): BatchRecord {
  return {
    id: r['id'] as string,
    target: r['target'] as string,
    run_id: String(r['run_id']),
    schedule_id: r['schedule_id'] as string,
    scope: r['scope'] as string,
    format: r['format'] as FeedFormat,
    status: r['status'] as BatchRecord['status'],
    watermark: String(r['watermark']),
    epoch: String(r['epoch']),
    queue_mark: String(r['queue_mark']),
    row_count: num(r['row_count']),
    rows_by: parsed<RowsBy>(r['rows_by']),
    held: parsed<HeldCounts>(r['held_by']),
    location: text(r['location']),
    created_at: Number(r['created_at']),
    finished_at: num(r['finished_at']),
  };
}

export function heldFromRow(r: Raw): HeldEntry {
  const recordType = r['record_type'] as RecordType;
  const k3 = String(r['k3']);
  return {
    target: r['target'] as string,
    record_type: recordType,
    course_id: text(r['course_id']),
    student_id: String(r['k2']),
    assignment_id: recordType === 'assignment' ? String(r['k1']) : null,
    grading_period_id: recordType === 'course' && k3 !== NO_KEY ? k3 : null,
    root_account_id: text(r['root_account_id']),
    reason: r['reason'] as HeldReason,
    since: Number(r['since']),
    changed_at: Number(r['changed_at']),
  };
}

const id = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * A sync_view row (candidatePageSql, as an array) as the view's input. Ids arrive as text (SQLite,
 * TEXT columns) or int8 strings (PostgreSQL), instants as numbers or int8 strings, flags as 0/1 or
 * booleans: the converters accept each.
 */
export function candidateFrom(r: readonly unknown[]): Candidate {
  // Object literals of one shape each (no spreads): this runs once per candidate.
  const acked = r[9] == null ? null : { digest: r[9] as string, op: r[10] as FeedRow['op'] };
  const held = r[11] == null ? null : { reason: r[11] as HeldReason, changed_at: Number(r[12]), root_account_id: id(r[13]) };
  if (r[1] === 'assignment') {
    return {
      record_type: 'assignment',
      k1: String(r[2]),
      k2: String(r[3]),
      k3: String(r[4]),
      course_sis_id: r[6] as string | null,
      student_sis_id: r[7] as string | null,
      root_account_id: id(r[8]),
      acked,
      held,
      assignment:
        r[19] == null
          ? null
          : {
              course_id: id(r[5]),
              score: num(r[14]),
              grade: r[15] as string | null,
              points_possible: num(r[16]),
              grading_complete: bool(r[17]),
              muted: bool(r[18]) === true,
              instant: Number(r[19]),
            },
    };
  }
  return {
    record_type: 'course',
    k1: String(r[2]),
    k2: String(r[3]),
    k3: String(r[4]),
    course_sis_id: r[6] as string | null,
    student_sis_id: r[7] as string | null,
    root_account_id: id(r[8]),
    acked,
    held,
    score:
      r[23] == null
        ? null
        : { current_score: num(r[20]), final_score: num(r[21]), workflow_state: r[22] as string, instant: Number(r[23]) },
    override: r[25] == null ? null : { override_score: num(r[24]), instant: Number(r[25]) },
  };
}

/**
 * The ledger digest of a key the SIS holds with values not known: no view's digest equals it, so the
 * next run examining the key sends its current view (a delete included).
 */
const BLANK_DIGEST = "''";

/**
 * A resend forgets what the target acknowledged (SPEC §4) by blanking the digest of the ledger entries
 * it covers (`where`: the target and the selection): those keys are sent again. The entries are kept,
 * not deleted, so that a key deleted before the next run is still sent as a delete (the SIS holds it),
 * and only rows the SIS holds (op upsert) are forgotten: one told to delete stays gone.
 */
export const forget = (where: string): string => `UPDATE sync_acked SET digest = ${BLANK_DIGEST} WHERE op = 'upsert' AND ${where}`;

/**
 * A pending batch abandoned (its re-delivery refused, or its delivery failed after it may have reached
 * the SIS) may have been delivered: its keys are entered in the ledger as held by the SIS with a blank
 * digest, so that the next run sends their current view, a delete included, whatever that batch did.
 * A batch never delivered (building) records nothing. Parameters: target id, run id, batch id.
 */
export function maybeDelivered(dialect: Dialect): string {
  const [target, run, batch] = dialect === 'sqlite' ? ['?', '?', '?'] : ['$1::bigint', '$2::bigint', '$3'];
  return `INSERT INTO sync_acked (target_id, record_type, k1, k2, k3, course_id, digest, op, run_id)
    SELECT ${target}, record_type, k1, k2, k3, course_id, ${BLANK_DIGEST}, 'upsert', ${run} FROM sync_batch_keys WHERE batch_id = ${batch}
    ORDER BY record_type, k1, k2, k3
    ON CONFLICT (target_id, record_type, k1, k2, k3) DO UPDATE SET course_id = excluded.course_id, digest = ${BLANK_DIGEST},
      op = 'upsert', run_id = excluded.run_id`;
}

export const RESEND_COURSE_SOURCES = [
  `SELECT @target, 'assignment', assignment_id, student_id, -1, course_id FROM assignment_scores WHERE course_id = @id`,
  `SELECT @target, 'course', course_id, student_id, -1, course_id FROM course_scores WHERE course_id = @id`,
  `SELECT @target, 'course', course_id, student_id, grading_period_id, course_id FROM course_overrides WHERE course_id = @id`,
];
export const RESEND_ASSIGNMENT_SOURCE = `SELECT @target, 'assignment', assignment_id, student_id, -1, course_id FROM assignment_scores WHERE assignment_id = @id`;
