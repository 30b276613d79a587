import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryEntry, SyncEngine } from '../../src/sync/engine.js';
import { backends, openTestStore, type TestStore } from '../support/stores.js';
import { A1, A2, A3, C1, C2, C3, P1, ROOT_1, ROOT_2, S1, S2, courseScore, engine, fold, grade, override, filesIn, readBatch, tempDir, withAckFailing, withOutboxBlocked } from './world.js';

/** The data rows of a delivered batch. */
const rowsOf = (e: HistoryEntry): string[] => readBatch(e.batch).split('\r\n').slice(1, -1);
/** record_type,course_sis_id,student_sis_id,assignment_id,score of each row: enough to tell them apart. */
const brief = (e: HistoryEntry): string[] =>
  rowsOf(e).map((line) => {
    const f = line.split(',');
    return `${f[0]} ${f[1]} ${f[4]} ${f[6]} ${f[7] || f[8] || '-'} ${f[9]}`;
  });

describe.each(backends)('the acknowledged-view ledger ($name)', (backend) => {
  let t: TestStore;
  let outbox: string;
  beforeEach(async () => {
    t = await openTestStore(backend);
    outbox = tempDir('outbox');
  });
  afterEach(async () => {
    await t.cleanup();
  });
  const run = async (sync: SyncEngine, id: string) => {
    const e = await sync.runSchedule(id, { by: 'ops' });
    expect(e.status, e.error ?? '').toBe('succeeded');
    return e;
  };

  it('belongs to the SIS target: scoped and unscoped schedules to one target never send a change twice', async () => {
    const sync = await engine(
      t.store,
      `
- {id: east, hourOfDay: 1, postedBy: A, rootAccountId: "${ROOT_1}"}
- {id: west, hourOfDay: 2, postedBy: B, rootAccountId: "${ROOT_2}"}
- {id: everything, hourOfDay: 3, postedBy: C}
`,
      `file:${outbox}`,
    );
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, course: C1, score: 1 }),
      grade('2026-03-01T10:00:00Z', { assignment: A2, student: S1, course: C3, score: 2 }),
    );
    expect(brief(await run(sync, 'east'))).toEqual(['assignment upsert MATH-101 ABC.123 21070000000000355 1']);
    expect(brief(await run(sync, 'everything'))).toEqual(['assignment upsert BIO-200 ABC.123 21070000000000356 2']);
    expect(brief(await run(sync, 'west'))).toEqual([]);

    await fold(t.store, grade('2026-03-02T10:00:00Z', { assignment: A1, student: S1, course: C1, score: 3 }));
    expect(brief(await run(sync, 'west'))).toEqual([]); // not its root account
    expect(brief(await run(sync, 'everything'))).toEqual(['assignment upsert MATH-101 ABC.123 21070000000000355 3']);
    expect(brief(await run(sync, 'east'))).toEqual([]); // already acknowledged by the target

    await fold(t.store, grade('2026-03-03T10:00:00Z', { assignment: A2, student: S1, course: C3, score: 4 }));
    expect(brief(await run(sync, 'west'))).toEqual(['assignment upsert BIO-200 ABC.123 21070000000000356 4']);
    expect(brief(await run(sync, 'everything'))).toEqual([]);
  });

  it('lists held rows with their reason and releases them when the reason clears', async () => {
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: A}', `file:${outbox}`);
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 1, muted: true }),
      grade('2026-03-01T10:01:00Z', { assignment: A1, student: S2, score: 2 }),
      grade('2026-03-01T10:02:00Z', { assignment: A2, student: S1, course: C2, courseSis: null, score: 3 }),
      // unposted AND unmapped: the mapping is reported (an admin can fix it)
      grade('2026-03-01T10:03:00Z', { assignment: A3, student: S2, score: 4, muted: true }),
      courseScore('2026-03-01T11:00:00Z', { student: S2, current: 50, final: 40 }),
      override('2026-03-01T11:00:00Z', { student: S2, period: P1, score: 45 }),
    );
    // A dry run writes no holds, yet reports what the run would leave held.
    const dry = await sync.runSchedule('nightly', { by: 'ops', dryRun: true });
    expect([dry.status, dry.held]).toEqual(['dry_run', { unposted: 1, student_unmapped: 4, course_unmapped: 1 }]);
    const first = await run(sync, 'nightly');
    expect(first.rows).toBe(0);
    expect(first.held).toEqual({ unposted: 1, student_unmapped: 4, course_unmapped: 1 });
    const held = await sync.held({ limit: 100 });
    expect(held.map((h) => [h.reason, h.record_type, h.course_id, h.student_id, h.assignment_id, h.grading_period_id])).toEqual([
      ['unposted', 'assignment', C1, S1, A1, null],
      ['student_unmapped', 'assignment', C1, S2, A1, null],
      ['student_unmapped', 'assignment', C1, S2, A3, null],
      ['student_unmapped', 'course', C1, S2, null, null],
      ['student_unmapped', 'course', C1, S2, null, P1],
      ['course_unmapped', 'assignment', C2, S1, A2, null],
    ]);
    expect(held[0]).toMatchObject({ root_account_id: ROOT_1, changed_at: '2026-03-01T10:00:00.000Z', target: `file:${outbox}` });
    expect(await sync.held({ reason: 'course_unmapped', limit: 100 })).toHaveLength(1);

    // Nothing changed: held rows are not candidates by themselves, yet still counted and listed.
    const quiet = await run(sync, 'nightly');
    expect([quiet.rows, quiet.held]).toEqual([0, first.held]);
    expect(await sync.held({ limit: 100 })).toEqual(held);

    // S2 gets its SIS id: its rows go out, except A3, which is still unposted.
    await fold(t.store, grade('2026-03-02T09:00:00Z', { assignment: A2, student: S2, studentSis: 'S-0002', score: 9, muted: true }));
    const dryAgain = await sync.runSchedule('nightly', { by: 'ops', dryRun: true });
    expect(dryAgain.held).toEqual({ unposted: 3, student_unmapped: 0, course_unmapped: 1 });
    const second = await run(sync, 'nightly');
    expect(brief(second)).toEqual([
      'assignment upsert MATH-101 S-0002 21070000000000355 2',
      'course upsert MATH-101 S-0002 - 40',
      `course upsert MATH-101 S-0002 ${P1} 45`,
    ]);
    expect(second.held).toEqual({ unposted: 3, student_unmapped: 0, course_unmapped: 1 });
    expect((await sync.held({ limit: 100 })).map((h) => [h.reason, h.student_id, h.assignment_id])).toEqual([
      ['unposted', S1, A1],
      ['unposted', S2, A2],
      ['unposted', S2, A3],
      ['course_unmapped', S1, A2],
    ]);
    const quietAgain = await run(sync, 'nightly');
    expect([quietAgain.rows, quietAgain.held]).toEqual([0, second.held]);
  });

  it('lists what is held now, between runs too, and the next run counts the same', async () => {
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: A}', `file:${outbox}`);
    const target = `file:${outbox}`;
    const listed = async () => (await sync.held({ limit: 100 })).map((h) => `${h.reason} ${h.student_id} ${h.assignment_id ?? '-'}`);
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 1, muted: true }),
      grade('2026-03-01T10:01:00Z', { assignment: A1, student: S2, score: 2 }),
    );
    // Before any run.
    expect(await listed()).toEqual([`unposted ${S1} ${A1}`, `student_unmapped ${S2} ${A1}`]);

    // The grade is posted: no longer held, though no run has happened; the run sends it.
    await fold(t.store, grade('2026-03-01T12:00:00Z', { assignment: A1, student: S1, score: 1, muted: false }));
    expect(await listed()).toEqual([`student_unmapped ${S2} ${A1}`]);
    const dry = await sync.runSchedule('nightly', { by: 'ops', dryRun: true });
    const first = await run(sync, 'nightly');
    expect(brief(first)).toEqual([`assignment upsert MATH-101 ABC.123 ${A1} 1`]);
    expect(first.held).toEqual({ unposted: 0, student_unmapped: 1, course_unmapped: 0 });
    expect(dry.held).toEqual(first.held);
    expect(await listed()).toEqual([`student_unmapped ${S2} ${A1}`]);

    // While a run delivers to the target, the list is as that run leaves it: no waiting for it.
    await fold(t.store, grade('2026-03-02T10:00:00Z', { assignment: A2, student: S1, score: 5, muted: true }));
    const lease = await sync.sync.lockTarget(target, { timeoutMs: 1000, holder: 'a run' });
    try {
      expect(await listed()).toEqual([`student_unmapped ${S2} ${A1}`]);
    } finally {
      await lease.release();
    }
    expect(await listed()).toEqual([`unposted ${S1} ${A2}`, `student_unmapped ${S2} ${A1}`]);

    // A resend of everything resets what the refreshes examined as well: still listed, still counted.
    await sync.resend({ selector: 'all', by: 'ops' });
    expect(await listed()).toEqual([`unposted ${S1} ${A2}`, `student_unmapped ${S2} ${A1}`]);
    const second = await run(sync, 'nightly');
    expect(brief(second)).toEqual([`assignment upsert MATH-101 ABC.123 ${A1} 1`]);
    expect(second.held).toEqual({ unposted: 1, student_unmapped: 1, course_unmapped: 0 });
  });

  it('resend: a course, an assignment or everything goes again; held rows stay held', async () => {
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: A}', `file:${outbox}`);
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 1 }),
      grade('2026-03-01T10:00:00Z', { assignment: A2, student: S1, score: 2 }),
      grade('2026-03-01T10:00:00Z', { assignment: A3, student: S1, score: 3, muted: true }),
      grade('2026-03-01T10:00:00Z', { assignment: A3, student: S2, course: C3, score: 4, studentSis: 'S-2' }), // another course
      courseScore('2026-03-01T11:00:00Z', { student: S1, current: 50, final: 40 }),
    );
    expect((await run(sync, 'nightly')).rows).toBe(4);
    expect((await run(sync, 'nightly')).rows).toBe(0);

    const [course] = await sync.resend({ selector: 'course', id: C1, by: 'Registrar' });
    expect(course).toMatchObject({ target: `file:${outbox}`, selector: 'course', id: C1, requested_by: 'Registrar', unacked: 3 });
    const again = await run(sync, 'nightly');
    expect(brief(again)).toEqual([
      'assignment upsert MATH-101 ABC.123 21070000000000355 1',
      'assignment upsert MATH-101 ABC.123 21070000000000356 2',
      'course upsert MATH-101 ABC.123 - 40',
    ]);
    expect(again.held.unposted).toBe(1); // A3 is still unposted: still held, not sent
    expect((await run(sync, 'nightly')).rows).toBe(0);

    await sync.resend({ selector: 'assignment', id: A2, by: 'Registrar' });
    expect(brief(await run(sync, 'nightly'))).toEqual(['assignment upsert MATH-101 ABC.123 21070000000000356 2']);

    await sync.resend({ selector: 'all', by: 'Registrar' });
    expect((await run(sync, 'nightly')).rows).toBe(4);
    expect((await run(sync, 'nightly')).rows).toBe(0);
    expect((await sync.held({ limit: 10 })).map((h) => h.reason)).toEqual(['unposted']);
  });

  it('resend: a row deleted after the resend still goes out as a delete, and one deleted before it stays gone', async () => {
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: A}', `file:${outbox}`);
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 1 }),
      courseScore('2026-03-01T11:00:00Z', { student: S1, current: 50, final: 40 }),
      courseScore('2026-03-01T11:00:00Z', { student: S2, course: C3, current: 60, final: 70 }),
      grade('2026-03-01T10:00:00Z', { assignment: A2, student: S2, course: C3, score: 4, studentSis: 'S-2' }),
    );
    expect((await run(sync, 'nightly')).rows).toBe(4);
    await fold(t.store, courseScore('2026-03-02T11:00:00Z', { student: S2, course: C3, workflow: 'deleted' }));
    expect(brief(await run(sync, 'nightly'))).toEqual(['course delete BIO-200 S-2 - ']);

    // The SIS still holds C1's rows: once forgotten, they go again, and so does a deletion since.
    const [course] = await sync.resend({ selector: 'course', id: C1, by: 'Registrar' });
    expect(course!.unacked).toBe(2);
    await fold(t.store, courseScore('2026-03-03T11:00:00Z', { student: S1, workflow: 'deleted' }));
    expect(brief(await run(sync, 'nightly'))).toEqual([
      'assignment upsert MATH-101 ABC.123 21070000000000355 1',
      'course delete MATH-101 ABC.123 - ',
    ]);
    // Everything again: the row the SIS was told to delete before is not sent (nor deleted) again.
    const [all] = await sync.resend({ selector: 'all', by: 'Registrar' });
    expect(all!.unacked).toBe(2);
    expect(brief(await run(sync, 'nightly'))).toEqual([
      'assignment upsert BIO-200 S-2 21070000000000356 4',
      'assignment upsert MATH-101 ABC.123 21070000000000355 1',
    ]);
    expect((await run(sync, 'nightly')).rows).toBe(0);
  });

  it('a batch abandoned after it may have been delivered leaves its rows to be sent again, a delete included', async () => {
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: A}', `file:${outbox}`);
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 1 }),
      courseScore('2026-03-01T11:00:00Z', { student: S1, current: 50, final: 40 }),
    );
    expect((await run(sync, 'nightly')).rows).toBe(2);
    await fold(
      t.store,
      grade('2026-03-02T10:00:00Z', { assignment: A1, student: S1, score: 2 }),
      courseScore('2026-03-02T11:00:00Z', { student: S1, workflow: 'deleted' }),
    );
    // Delivered, then the process dies before the acknowledgement: the batch stays pending...
    const died = await withAckFailing(sync, new Error('the process died'), () => sync.runSchedule('nightly', { by: 'ops' }));
    expect(brief({ ...died, batch: join(outbox, filesIn(outbox).at(-1)!) })).toEqual([
      'assignment upsert MATH-101 ABC.123 21070000000000355 2',
      'course delete MATH-101 ABC.123 - ',
    ]);
    // ...and delivering it again meets an error retrying cannot fix: it is abandoned.
    expect((await withOutboxBlocked(outbox, () => sync.runSchedule('nightly', { by: 'ops' }))).status).toBe('failed');
    expect((await sync.sync.getBatch(died.batch_id!))!.status).toBe('abandoned');

    // The course comes back with the very values the SIS had before it (maybe) deleted them.
    await fold(t.store, courseScore('2026-03-03T11:00:00Z', { student: S1, current: 50, final: 40 }));
    expect(brief(await run(sync, 'nightly'))).toEqual([
      'assignment upsert MATH-101 ABC.123 21070000000000355 2',
      'course upsert MATH-101 ABC.123 - 40',
    ]);
    expect((await run(sync, 'nightly')).rows).toBe(0);
  });

  it('a resend --all made while a run is in flight keeps the cursor reset', async () => {
    const sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: A}', `file:${outbox}`);
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 1 }));
    expect((await run(sync, 'nightly')).rows).toBe(1);
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A2, student: S1, score: 2 }));
    // The resend lands between the delta and the ack of the next run (the sink is the window).
    const store = sync.sync;
    const original = store.ackBatch.bind(store);
    store.ackBatch = async (...args) => {
      await sync.resend({ selector: 'all', by: 'Registrar' });
      return original(...args);
    };
    expect(brief(await run(sync, 'nightly'))).toEqual(['assignment upsert MATH-101 ABC.123 21070000000000356 2']);
    store.ackBatch = original;
    // A1 was forgotten by the resend and must go again; A2 was acknowledged after it.
    expect(brief(await run(sync, 'nightly'))).toEqual(['assignment upsert MATH-101 ABC.123 21070000000000355 1']);
  });
});
