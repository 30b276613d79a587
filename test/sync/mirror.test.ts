import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NormalisedEvent } from '../../src/intake/records.js';
import type { HistoryEntry, SyncEngine } from '../../src/sync/engine.js';
import { backends, openTestStore } from '../support/stores.js';
import { A1, A2, A3, C1, C2, C3, COURSE_SIS, P1, ROOT_1, ROOT_2, ROOT_OF, S1, S2, courseScore, engine, fold, grade, override, filesIn, readBatch, tempDir, withAckFailing, withOutboxBlocked } from './world.js';

/**
 * The delta engine end to end, as a property: random grade events arrive in any order between
 * syncs, and a simulated SIS applies each batch. At every sync each row must be news to the SIS (no
 * row equal to what it already holds, deletes only of rows it has) and carry the latest visible
 * record of its key as received so far (never an unposted grade). At the end, the SIS built
 * incrementally must hold what a fresh target gets from one full sync of the final state, apart from
 * rows that are hidden now (held) or emptied: the ledger, cursor, held rows and candidate gathering
 * lose nothing and send nothing twice. Students' and courses' SIS ids change, and courses move
 * between root accounts. Syncs go through three schedules to the one target, two of them scoped to
 * a root account, and resends make it forget courses, assignments or everything
 * (SPEC §4); some syncs are computed dry first (they must report what the real run sends), some fail
 * at the sink (nothing acknowledged: what they carried goes with a later run), and some deliver, then
 * die before the acknowledgement (the next run delivers that batch again, byte for byte, SPEC §5). The
 * SIS reads the outbox, so it sees every delivery, including those of runs that then died. Both
 * backends.
 */

const BASE = Date.UTC(2026, 2, 1, 10);
const ASSIGNMENT_COURSE: Record<string, string> = { [A1]: C1, [A2]: C2, [A3]: C3 };

interface GradeAction {
  kind: 'grade';
  assignment: string;
  student: string;
  score: number | null;
  muted: boolean | null;
  complete: boolean;
  /** the event carries S2's SIS id (S1's is on every grade event) and C2's */
  teach: boolean;
  /** the SIS ids it carries are the other ones: a student's or course's SIS id changes (latest wins) */
  alias: boolean;
  /** it names the other root account: the course moves between the scoped schedules (latest wins) */
  moved: boolean;
}
interface ScoreAction {
  kind: 'score';
  course: string;
  student: string;
  current: number | null;
  final: number | null;
  deleted: boolean;
}
interface OverrideAction {
  kind: 'override';
  course: string;
  student: string;
  period: string | null;
  score: number | null;
}
type EventAction = (GradeAction | ScoreAction | OverrideAction) & { minute: number };
type ResendAction = { kind: 'resend'; selector: 'course' | 'assignment' | 'all'; id: string };
/**
 * A sync through one schedule: delivered; first computed dry (it must say what the real run sends);
 * failed at the sink; or delivered, then its process "dies" before the acknowledgement (the ack throws).
 */
type SyncAction = { kind: 'sync'; schedule: 'all' | 'east' | 'west'; mode: 'deliver' | 'dry' | 'fail' | 'crash' };
/** Someone lists the held rows (CLI or API) between runs: of one schedule's scope, or of every one. */
type HeldAction = { kind: 'held'; schedule: 'all' | 'east' | 'west' | null };
type Action = EventAction | ResendAction | SyncAction | HeldAction;

const student = fc.constantFrom(S1, S2);
const course = fc.constantFrom(C1, C2, C3);
const minute = fc.nat(40);
const gradeAction = fc.record({
  kind: fc.constant('grade' as const),
  assignment: fc.constantFrom(A1, A2, A3),
  student,
  score: fc.constantFrom(null, 1, 2, 7.5),
  muted: fc.constantFrom(false, false, true, null),
  complete: fc.boolean(),
  teach: fc.boolean(),
  alias: fc.constantFrom(false, false, false, true),
  moved: fc.constantFrom(false, false, false, false, true),
  minute,
});
const scoreAction = fc.record({
  kind: fc.constant('score' as const),
  course,
  student,
  current: fc.constantFrom(null, 80, 85.5),
  final: fc.constantFrom(null, 70, 90),
  deleted: fc.constantFrom(false, false, false, true),
  minute,
});
const overrideAction = fc.record({
  kind: fc.constant('override' as const),
  course,
  student,
  period: fc.constantFrom(null, P1),
  score: fc.constantFrom(null, 95, 60),
  minute,
});
const syncAction: fc.Arbitrary<SyncAction> = fc.record({
  kind: fc.constant('sync' as const),
  schedule: fc.constantFrom('all' as const, 'all' as const, 'east' as const, 'west' as const),
  mode: fc.constantFrom('deliver' as const, 'deliver' as const, 'deliver' as const, 'dry' as const, 'fail' as const, 'crash' as const),
});
const resendAction = fc.oneof(
  fc.record({ kind: fc.constant('resend' as const), selector: fc.constant('course' as const), id: course }),
  fc.record({ kind: fc.constant('resend' as const), selector: fc.constant('assignment' as const), id: fc.constantFrom(A1, A2, A3) }),
  fc.constant({ kind: 'resend' as const, selector: 'all' as const, id: '' }),
);
const heldAction: fc.Arbitrary<HeldAction> = fc.record({
  kind: fc.constant('held' as const),
  schedule: fc.constantFrom(null, 'all' as const, 'east' as const, 'west' as const),
});
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: gradeAction },
  { weight: 2, arbitrary: scoreAction },
  { weight: 2, arbitrary: overrideAction },
  { weight: 2, arbitrary: syncAction },
  { weight: 1, arbitrary: resendAction },
  { weight: 1, arbitrary: heldAction },
);

/** Whether a resend covers the row of a key (record_type|course_id|student_id|assignment_id|period). */
function covers(r: ResendAction, key: string): boolean {
  const [recordType, courseId, , assignmentId] = key.split('|');
  return r.selector === 'all' || (r.selector === 'course' ? courseId === r.id : recordType === 'assignment' && assignmentId === r.id);
}

/** Distinct instants (a minute, then the action's index in ms): the latest record of a key is unambiguous. */
const instantOf = (a: EventAction, index: number): number => BASE + a.minute * 60_000 + index;
const iso = (ms: number) => new Date(ms).toISOString();

/** The root account an event names for its course. */
function rootOf(a: EventAction): string {
  if (a.kind !== 'grade') return ROOT_OF[a.course]!;
  const usual = ROOT_OF[ASSIGNMENT_COURSE[a.assignment]!]!;
  return a.moved ? (usual === ROOT_1 ? ROOT_2 : ROOT_1) : usual;
}

/** The SIS ids an event teaches (null: none). Course score and override events carry the course's. */
function sisOf(a: EventAction): { student: string | null; course: string | null } {
  if (a.kind !== 'grade') return { student: null, course: COURSE_SIS[a.course]! };
  const c = ASSIGNMENT_COURSE[a.assignment]!;
  const student = a.student === S1 ? (a.alias ? 'ABC.999' : 'ABC.123') : a.teach ? (a.alias ? 'XYZ.9' : 'XYZ.2') : null;
  const course = c === C2 && !a.teach ? null : `${COURSE_SIS[c]}${a.alias ? '-B' : ''}`;
  return { student, course };
}

function eventOf(a: EventAction, at: string): NormalisedEvent {
  switch (a.kind) {
    case 'grade': {
      const c = ASSIGNMENT_COURSE[a.assignment]!;
      const sis = sisOf(a);
      return grade(at, {
        assignment: a.assignment,
        student: a.student,
        course: c,
        score: a.score,
        muted: a.muted,
        complete: a.complete,
        studentSis: sis.student,
        courseSis: sis.course,
        root: rootOf(a),
      });
    }
    case 'score':
      return courseScore(at, { course: a.course, student: a.student, current: a.current, final: a.final, workflow: a.deleted ? 'deleted' : 'active' });
    case 'override':
      return override(at, { course: a.course, student: a.student, period: a.period, score: a.score });
  }
}

const COLUMNS = 17; // SPEC §6
const CHANGED_AT = 16;
/** A feed line's key: record_type, course_id, student_id, assignment_id, grading_period_id. */
const keyOf = (f: string[]): string => [f[0], f[3], f[5], f[7], f[8]].join('|');
/** What the SIS holds of a row: every column but changed_at (a re-timed value is no change). */
const valuesOf = (f: string[]): string => f.slice(0, CHANGED_AT).join(',');
const fieldsIn = (csv: string): string[][] =>
  csv
    .split('\r\n')
    .slice(1, -1)
    .map((line) => line.split(','));
const fieldsOf = (e: HistoryEntry): string[][] => fieldsIn(readBatch(e.batch));
/** The run number in a batch file's name (gradestream-<UTC>-<schedule>-r<run>.csv): the order runs delivered in. */
const runOf = (file: string): number => Number(/-r(\d+)\.csv$/.exec(file)![1]);
const num = (n: number | null): string => (n === null ? '' : String(n));

/** A target's held rows (the schedule `all`: every scope), by key as keyOf writes it, with their reason. */
async function heldOf(engine: SyncEngine): Promise<Map<string, string>> {
  const rows = await engine.held({ schedule: 'all', limit: 1000 });
  return new Map(rows.map((h) => [[h.record_type, h.course_id, h.student_id, h.assignment_id ?? '', h.grading_period_id ?? ''].join('|'), h.reason]));
}

/** The latest received record of each key, and the latest SIS id of each student and course, by instant. */
class Received {
  private readonly latest = new Map<string, { action: EventAction; at: number }>();
  private readonly sis = new Map<string, { id: string; at: number }>();
  add(a: EventAction, at: number): void {
    const key = this.keyOf(a);
    const prev = this.latest.get(key);
    if (prev === undefined || prev.at < at) this.latest.set(key, { action: a, at });
    const { student, course } = sisOf(a);
    if (student !== null) this.teach(`student|${a.student}`, student, at);
    const c = a.kind === 'grade' ? ASSIGNMENT_COURSE[a.assignment] : a.course;
    if (course !== null) this.teach(`course|${c}`, course, at);
    this.teach(`root|${c}`, rootOf(a), at);
  }
  private teach(key: string, id: string, at: number): void {
    const prev = this.sis.get(key);
    if (prev === undefined || prev.at < at) this.sis.set(key, { id, at });
  }
  studentSis(s: string): string | undefined {
    return this.sis.get(`student|${s}`)?.id;
  }
  courseSis(c: string): string | undefined {
    return this.sis.get(`course|${c}`)?.id;
  }
  root(c: string): string | undefined {
    return this.sis.get(`root|${c}`)?.id;
  }
  private keyOf(a: EventAction): string {
    if (a.kind === 'grade') return `grade|${a.assignment}|${a.student}`;
    if (a.kind === 'score') return `score|${a.course}|${a.student}`;
    return `override|${a.course}|${a.student}|${a.period}`;
  }
  grade(assignment: string, s: string) {
    return this.latest.get(`grade|${assignment}|${s}`) as { action: GradeAction; at: number } | undefined;
  }
  score(c: string, s: string) {
    return this.latest.get(`score|${c}|${s}`) as { action: ScoreAction; at: number } | undefined;
  }
  override(c: string, s: string, period: string | null) {
    return this.latest.get(`override|${c}|${s}|${period}`) as { action: OverrideAction; at: number } | undefined;
  }
}

/** A row sent carries its key's latest record as received (SPEC §3, §6): checked column by column. */
function expectLatest(f: string[], got: Received): void {
  const [recordType, op, root, courseId, courseSis, studentId, studentSis, assignmentId, period] = f;
  expect([root, courseSis, studentSis], 'the latest root account and SIS ids').toEqual([
    got.root(courseId!),
    got.courseSis(courseId!),
    got.studentSis(studentId!),
  ]);
  if (recordType === 'assignment') {
    const g = got.grade(assignmentId!, studentId!);
    expect(g, `a row for an assignment score never received: ${f.join(',')}`).toBeDefined();
    const a = g!.action;
    expect(a.muted, 'an unposted grade reached the SIS').toBe(false);
    expect([op, courseId, f[9], f[10], f[11], f[15], f[CHANGED_AT]]).toEqual([
      'upsert',
      ASSIGNMENT_COURSE[assignmentId!],
      num(a.score),
      String(a.score ?? 5),
      '10',
      String(a.complete),
      iso(g!.at),
    ]);
    return;
  }
  // A course score deleted takes every course row of that student in that course with it.
  const s = got.score(courseId!, studentId!);
  if (op === 'delete') {
    expect(s?.action.deleted, `a delete for a course score not deleted: ${f.join(',')}`).toBe(true);
    return;
  }
  expect(s?.action.deleted ?? false, 'a row of a deleted course score sent as an upsert').toBe(false);
  const o = got.override(courseId!, studentId!, period === '' ? null : period!);
  if (period !== '') {
    expect(o, `a grading-period row with no override: ${f.join(',')}`).toBeDefined();
    expect([f[9], f[12], f[13], f[14], f[CHANGED_AT]]).toEqual([num(o!.action.score), '', '', num(o!.action.score), iso(o!.at)]);
    return;
  }
  const override = o?.action.score ?? null;
  const final = s?.action.final ?? null;
  expect([f[9], f[12], f[13], f[14], f[CHANGED_AT]]).toEqual([
    num(override ?? final),
    num(s?.action.current ?? null),
    num(final),
    num(override),
    iso(Math.max(s?.at ?? -Infinity, o?.at ?? -Infinity)),
  ]);
}

describe.each(backends)('the SIS a target builds from its batches ($name)', (backend) => {
  it('holds every visible change exactly once: incremental syncs end where one full sync of the final state does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 40, size: 'max' }), async (actions) => {
        const t = await openTestStore(backend);
        const outbox = tempDir('mirror');
        let freshOutbox: string | null = null;
        const engines: SyncEngine[] = [];
        try {
          // Three schedules to one SIS target, two of them scoped to a root account (SPEC §4): the ledger
          // is the target's, so no change goes out twice, whichever schedule sends it.
          const schedule = `
- {id: all, hourOfDay: 2, postedBy: A}
- {id: east, hourOfDay: 3, postedBy: B, rootAccountId: "${ROOT_1}"}
- {id: west, hourOfDay: 4, postedBy: C, rootAccountId: "${ROOT_2}"}`;
          const sync = await engine(t.store, schedule, `file:${outbox}`);
          engines.push(sync);
          const sis = new Map<string, string>();
          // Keys a resend made the target forget: each may go once more unchanged (SPEC §4).
          const resent = new Set<string>();
          const got = new Received();
          // The SIS reads the outbox: every batch once, in the order runs delivered them. A batch
          // delivered again (same id) must be the very same bytes, and is not applied twice.
          const delivered = new Map<string, string>();
          let pending: string | null = null; // the file of a batch delivered by a run that died before its ack
          const receive = (scheduleId: string): void => {
            const fresh = filesIn(outbox).filter((f) => !delivered.has(f));
            for (const file of fresh.sort((x, y) => runOf(x) - runOf(y))) {
              const csv = readFileSync(join(outbox, file), 'utf8');
              delivered.set(file, csv);
              for (const f of fieldsIn(csv)) apply(f, scheduleId);
            }
          };
          const apply = (f: string[], scheduleId: string): void => {
            expect(f).toHaveLength(COLUMNS);
            if (scheduleId !== 'all') expect(f[2], "a row outside the schedule's root account").toBe(scheduleId === 'east' ? ROOT_1 : ROOT_2);
            const key = keyOf(f);
            // A delta is a row whose view differs from what the SIS holds (SPEC §3).
            if (f[1] === 'delete') expect(sis.has(key) || resent.has(key), `delete of a row the SIS does not have: ${key}`).toBe(true);
            else if (!resent.has(key)) expect(sis.get(key), `row sent again unchanged: ${key}`).not.toBe(valuesOf(f));
            resent.delete(key);
            expectLatest(f, got);
            if (f[1] === 'delete') sis.delete(key);
            else sis.set(key, valuesOf(f));
          };
          const run = async (id = 'all'): Promise<{ entry: HistoryEntry; rows: string[][] }> => {
            const entry = await sync.runSchedule(id, { by: 'ops' });
            expect(entry.status, entry.error ?? '').toBe('succeeded');
            if (pending !== null) {
              // The run first delivered the dead run's batch again (SPEC §5): the same bytes, and its
              // keys count as sent again for the resends made since.
              expect(readFileSync(join(outbox, pending), 'utf8')).toBe(delivered.get(pending));
              for (const f of fieldsIn(delivered.get(pending)!)) resent.delete(keyOf(f));
              pending = null;
            }
            const rows = fieldsOf(entry);
            expect(rows.length).toBe(entry.rows);
            return { entry, rows };
          };
          const syncAndApply = async (id = 'all'): Promise<HistoryEntry> => {
            const { entry } = await run(id);
            // The run's held counts are the held rows in its scope as it leaves them.
            const counts = { course_unmapped: 0, student_unmapped: 0, unposted: 0 };
            for (const h of await sync.held({ schedule: id, limit: 1000 })) counts[h.reason] += 1;
            expect(entry.held).toEqual(counts);
            receive(id);
            return entry;
          };
          for (const [index, a] of actions.entries()) {
            if (a.kind === 'held') {
              // Brings the held rows up to date between runs (refreshHeld): the runs after must count
              // and send as if it had not happened.
              const listed = await sync.held({ ...(a.schedule === null ? {} : { schedule: a.schedule }), limit: 1000 });
              if (pending === null) {
                // What is listed is what a run would leave held now (a dry run's count of it).
                const dry = await sync.runSchedule(a.schedule ?? 'all', { by: 'ops', dryRun: true });
                const counts = { course_unmapped: 0, student_unmapped: 0, unposted: 0 };
                for (const h of listed) counts[h.reason] += 1;
                expect(counts, 'held rows listed between runs').toEqual(dry.held);
              }
              continue;
            }
            if (a.kind === 'resend') {
              await sync.resend({ selector: a.selector, id: a.selector === 'all' ? null : a.id, by: 'registrar' });
              for (const key of sis.keys()) if (covers(a, key)) resent.add(key);
              continue;
            }
            if (a.kind === 'sync' && a.mode === 'fail') {
              // The sink cannot write (its directory is a file): nothing is acknowledged (SPEC §5).
              const e = await withOutboxBlocked(outbox, () => sync.runSchedule(a.schedule, { by: 'ops' }));
              expect(e.status).toBe('failed');
              if (pending !== null) {
                // Delivering a dead run's batch again met an error retrying cannot fix (the file sink
                // counts an unwritable directory as the SIS refusing, like HTTP 4xx): that batch is
                // abandoned, and its rows, delivered once, go again (a delete too) with a later run.
                for (const f of fieldsIn(delivered.get(pending)!)) resent.add(keyOf(f));
                pending = null;
              }
              continue;
            }
            if (a.kind === 'sync' && a.mode === 'crash') {
              const died = new Error('the process died before the acknowledgement');
              const e = await withAckFailing(sync, died, () => sync.runSchedule(a.schedule, { by: 'ops' }));
              expect(e.status).toBe('failed');
              if (pending === null) {
                // The SIS got the batch; it stays pending, to be delivered again by the next run.
                const before = new Set(delivered.keys());
                receive(a.schedule);
                [pending = null] = [...delivered.keys()].filter((f) => !before.has(f));
                expect(pending).not.toBeNull();
              } // else its run died delivering the earlier batch again, before its own delta
              continue;
            }
            if (a.kind === 'sync') {
              // With a batch pending, a dry run cannot know that the real run acknowledges it first.
              const dry = a.mode === 'dry' && pending === null ? await sync.runSchedule(a.schedule, { by: 'ops', dryRun: true }) : null;
              const real = await syncAndApply(a.schedule);
              if (dry !== null) expect([dry.rows, dry.rows_by, dry.held]).toEqual([real.rows, real.rows_by, real.held]);
              continue;
            }
            const at = instantOf(a, index);
            await fold(t.store, eventOf(a, iso(at)));
            got.add(a, at);
          }
          await syncAndApply();
          expect((await run()).rows, 'a sync right after another sent rows').toEqual([]);
          receive('all');

          // A fresh target (another sink) gets the final state's whole view in one sync.
          freshOutbox = tempDir('mirror-fresh');
          const fresh = await engine(t.store, schedule, `file:${freshOutbox}`);
          engines.push(fresh);
          const full = await fresh.runSchedule('all', { by: 'ops' });
          expect(full.status, full.error ?? '').toBe('succeeded');
          const whole = new Map(fieldsOf(full).map((f) => [keyOf(f), valuesOf(f)]));
          expect([...whole.values()].filter((v) => v.split(',')[1] === 'delete')).toEqual([]);
          for (const [key, values] of whole) expect(sis.get(key), `the SIS lacks ${key}`).toBe(values);
          // What the SIS has beyond that: rows hidden since they were sent (held now), or emptied.
          const freshHeld = await heldOf(fresh);
          const held = new Set(freshHeld.keys());
          for (const [key, values] of sis) {
            if (whole.has(key)) continue;
            const f = values.split(',');
            const emptied = f[0] === 'course' && f[9] === '' && f[12] === '' && f[13] === '' && f[14] === '';
            expect(held.has(key) || emptied, `the SIS keeps ${key} (${values}), neither held nor emptied`).toBe(true);
          }
          // A resend's keys (and an abandoned batch's) went again, unless hidden now.
          for (const key of resent) expect(held.has(key), `resent ${key} not sent again`).toBe(true);
          // The target's held rows are what the final state holds back, with the same reasons; a fresh
          // target also holds back a grade hidden again with the values this one already has.
          for (const [key, reason] of freshHeld) {
            const mine = (await heldOf(sync)).get(key);
            if (mine === undefined) expect([reason, sis.has(key)], `${key} not held`).toEqual(['unposted', true]);
            else expect(mine, `${key} held for another reason`).toBe(reason);
          }
          for (const key of (await heldOf(sync)).keys()) expect(held.has(key), `${key} held, yet visible`).toBe(true);
        } finally {
          for (const e of engines) await e.close();
          await t.cleanup();
          for (const dir of [outbox, freshOutbox]) if (dir !== null) rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 30 },
    );
  }, 240_000);
});
