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
 * The selects that fill a run's candidate set (SPEC §3): (run, record_type, k1, k2, k3) rows from
 * - record rows changed in (@from, @to];
 * - for a changed course score, the course's override rows of that student too (its workflow_state
 *   decides whether they are visible);
 * - every record row of a student whose SIS id changed, and of a course whose SIS id or root account
 *   changed, in that range;
 * - the target's held rows and its resend queue up to @mark.
 * Change numbers are indexed; SQLite is told to start from them (CROSS JOIN fixes the loop order).
 */
export function candidateSources(dialect: Dialect): string[] {
  const join = dialect === 'sqlite' ? 'CROSS JOIN' : 'JOIN';
  const range = (t: string) => `${t}.seq > @from AND ${t}.seq <= @to`;
  const sources = [
    `SELECT @run, 'assignment', a.assignment_id, a.student_id, -1 FROM assignment_scores a WHERE ${range('a')}`,
    `SELECT @run, 'course', s.course_id, s.student_id, -1 FROM course_scores s WHERE ${range('s')}`,
    `SELECT @run, 'course', o.course_id, o.student_id, o.grading_period_id FROM course_scores s
       ${join} course_overrides o ON o.course_id = s.course_id AND o.student_id = s.student_id WHERE ${range('s')}`,
    `SELECT @run, 'course', o.course_id, o.student_id, o.grading_period_id FROM course_overrides o WHERE ${range('o')}`,
    // a student's SIS id changed
    `SELECT @run, 'assignment', a.assignment_id, a.student_id, -1 FROM student_sis_ids m
       ${join} assignment_scores a ON a.student_id = m.student_id WHERE ${range('m')}`,
    `SELECT @run, 'course', s.course_id, s.student_id, -1 FROM student_sis_ids m
       ${join} course_scores s ON s.student_id = m.student_id WHERE ${range('m')}`,
    `SELECT @run, 'course', o.course_id, o.student_id, o.grading_period_id FROM student_sis_ids m
       ${join} course_overrides o ON o.student_id = m.student_id WHERE ${range('m')}`,
  ];
  // a course's SIS id or root account (the scope) changed
  for (const mapping of ['course_sis_ids', 'course_root_accounts']) {
    sources.push(
      `SELECT @run, 'assignment', a.assignment_id, a.student_id, -1 FROM ${mapping} m
         ${join} assignment_scores a ON a.course_id = m.course_id WHERE ${range('m')}`,
      `SELECT @run, 'course', s.course_id, s.student_id, -1 FROM ${mapping} m
         ${join} course_scores s ON s.course_id = m.course_id WHERE ${range('m')}`,
      `SELECT @run, 'course', o.course_id, o.student_id, o.grading_period_id FROM ${mapping} m
         ${join} course_overrides o ON o.course_id = m.course_id WHERE ${range('m')}`,
    );
  }
  sources.push(
    `SELECT @run, record_type, k1, k2, k3 FROM sync_held WHERE target = @target`,
    `SELECT @run, record_type, k1, k2, k3 FROM sync_queue WHERE target = @target AND id <= @mark`,
  );
  return sources;
}

/**
 * SPEC §6 order of the feed (compareRows in feed-row.ts): course_sis_id, student_sis_id, record_type,
 * assignment_id, grading_period_id (none first), then course_id, student_id, op. Text compares by byte
 * (SQLite's BINARY; COLLATE "C" columns in PostgreSQL), which for UTF-8 is code point order, as in JS.
 */
export function batchOrder(dialect: Dialect): string {
  const c = dialect === 'postgres' ? ' COLLATE "C"' : '';
  return `course_sis_id${c}, student_sis_id${c}, record_type${c}, assignment_id NULLS FIRST, grading_period_id NULLS FIRST,
    course_id, student_id, op${c}`;
}

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === true || v === 1n || v === 1 || v === '1');
const parsed = <T>(v: unknown): T | null => (v === null || v === undefined ? null : (JSON.parse(v as string) as T));

export function runFromRow(r: Raw): RunRecord {
  return {
    id: String(r['id']),
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

export function feedRowFrom(r: Raw): FeedRow {
  return {
    record_type: r['record_type'] as FeedRow['record_type'],
    op: r['op'] as FeedRow['op'],
    root_account_id: text(r['root_account_id']),
    course_id: String(r['course_id']),
    course_sis_id: r['course_sis_id'] as string,
    student_id: String(r['student_id']),
    student_sis_id: r['student_sis_id'] as string,
    assignment_id: text(r['assignment_id']),
    grading_period_id: text(r['grading_period_id']),
    score: num(r['score']),
    grade: text(r['grade']),
    points_possible: num(r['points_possible']),
    current_score: num(r['current_score']),
    final_score: num(r['final_score']),
    override_score: num(r['override_score']),
    grading_complete: bool(r['grading_complete']),
    changed_at: Number(r['changed_at']),
  };
}

/** A candidate page row (see candidatePageSql) as the view's input. */
export function candidateFrom(recordType: RecordType, r: Raw): Candidate {
  const base = {
    k1: String(r['k1']),
    k2: String(r['k2']),
    k3: String(r['k3']),
    course_sis_id: text(r['course_sis_id']),
    student_sis_id: text(r['student_sis_id']),
    root_account_id: text(r['root_account_id']),
    acked: r['acked_digest'] == null ? null : { digest: r['acked_digest'] as string, op: r['acked_op'] as FeedRow['op'] },
    held:
      r['held_reason'] == null
        ? null
        : { reason: r['held_reason'] as HeldReason, changed_at: Number(r['held_changed_at']), root_account_id: text(r['held_root_account_id']) },
  };
  if (recordType === 'assignment') {
    return {
      ...base,
      record_type: 'assignment',
      assignment:
        r['instant'] == null
          ? null
          : {
              course_id: text(r['course_id']),
              score: num(r['score']),
              grade: text(r['grade']),
              points_possible: num(r['points_possible']),
              grading_complete: bool(r['grading_complete']),
              muted: bool(r['muted']) === true,
              instant: Number(r['instant']),
            },
    };
  }
  return {
    ...base,
    record_type: 'course',
    score:
      r['score_instant'] == null
        ? null
        : {
            current_score: num(r['current_score']),
            final_score: num(r['final_score']),
            workflow_state: r['workflow_state'] as string,
            instant: Number(r['score_instant']),
          },
    override: r['override_instant'] == null ? null : { override_score: num(r['override_score']), instant: Number(r['override_instant']) },
  };
}

/**
 * One page of a run's candidates of one record type, after (@k1, @k2, @k3) in key order, joined with
 * the state, mappings, ledger and held rows their view depends on.
 */
export function candidatePageSql(recordType: RecordType): string {
  const shared = `c.k1, c.k2, c.k3, sm.student_sis_id, cm.course_sis_id, ra.root_account_id,
      k.digest AS acked_digest, k.op AS acked_op, h.reason AS held_reason, h.changed_at AS held_changed_at,
      h.root_account_id AS held_root_account_id`;
  const common = `
      LEFT JOIN student_sis_ids sm ON sm.student_id = c.k2
      LEFT JOIN sync_acked k ON k.target = @target AND k.record_type = c.record_type AND k.k1 = c.k1 AND k.k2 = c.k2 AND k.k3 = c.k3
      LEFT JOIN sync_held h ON h.target = @target AND h.record_type = c.record_type AND h.k1 = c.k1 AND h.k2 = c.k2 AND h.k3 = c.k3
      WHERE c.run_id = @run AND c.record_type = '${recordType}' AND (c.k1, c.k2, c.k3) > (@k1, @k2, @k3)
      ORDER BY c.k1, c.k2, c.k3 LIMIT @limit`;
  return recordType === 'assignment'
    ? `SELECT ${shared}, a.course_id, a.score, a.grade, a.points_possible, a.grading_complete, a.muted, a.instant
       FROM sync_candidates c
       LEFT JOIN assignment_scores a ON a.assignment_id = c.k1 AND a.student_id = c.k2
       LEFT JOIN course_sis_ids cm ON cm.course_id = a.course_id
       LEFT JOIN course_root_accounts ra ON ra.course_id = a.course_id
       ${common}`
    : `SELECT ${shared}, s.current_score, s.final_score, s.workflow_state, s.instant AS score_instant,
         o.override_score, o.instant AS override_instant
       FROM sync_candidates c
       LEFT JOIN course_scores s ON s.course_id = c.k1 AND s.student_id = c.k2
       LEFT JOIN course_overrides o ON o.course_id = c.k1 AND o.student_id = c.k2 AND o.grading_period_id = c.k3
       LEFT JOIN course_sis_ids cm ON cm.course_id = c.k1
       LEFT JOIN course_root_accounts ra ON ra.course_id = c.k1
       ${common}`;
}

export const RESEND_COURSE_SOURCES = [
  `SELECT @target, 'assignment', assignment_id, student_id, -1, course_id FROM assignment_scores WHERE course_id = @id`,
  `SELECT @target, 'course', course_id, student_id, -1, course_id FROM course_scores WHERE course_id = @id`,
  `SELECT @target, 'course', course_id, student_id, grading_period_id, course_id FROM course_overrides WHERE course_id = @id`,
];
export const RESEND_ASSIGNMENT_SOURCE = `SELECT @target, 'assignment', assignment_id, student_id, -1, course_id FROM assignment_scores WHERE assignment_id = @id`;
