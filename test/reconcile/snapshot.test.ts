import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NormalisedEvent } from '../../src/intake/records.js';
import { courseRecords, type CourseSnapshot } from '../../src/reconcile/canvas-records.js';
import { drift, keyOf, storedByKey, storedKeys } from '../../src/reconcile/drift.js';
import { compareVersions, fingerprint } from '../../src/state/fingerprint.js';
import { openStore } from '../../src/state/store.js';

/**
 * Issue 14's property: folding a Canvas snapshot (records at the instant of Canvas's answers) and a stream
 * of live events, in any order and any batching, gives the state the later of each key's records would:
 * an event newer than the read wins, an older one loses, whatever arrives first.
 */
const SHARD = '2107';
const T0 = Date.parse('2026-10-01T00:00:00Z');
const instant = fc.constantFrom(T0, T0 + 1000, T0 + 60_000);
const score = fc.option(fc.constantFrom(0, 4.5, 17.31, 100), { nil: null });
const global = (local: string) => SHARD + local.padStart(13, '0');
const STUDENTS = ['48', '49'];
const ASSIGNMENTS = ['355', '356'];
const COURSE = '565';

const snapshot = fc
  .record({
    date: instant,
    submissions: fc.array(
      fc.record({ assignment: fc.constantFrom(...ASSIGNMENTS), student: fc.constantFrom(...STUDENTS), score, posted: fc.boolean() }),
      { maxLength: 4 },
    ),
    enrollments: fc.array(fc.record({ student: fc.constantFrom(...STUDENTS), current: score, final: score, override: fc.option(score, { nil: undefined }) }), { maxLength: 2 }),
  })
  .map(({ date, submissions, enrollments }): CourseSnapshot => ({
    course: { item: { id: COURSE, sis_course_id: 'MATH-101', root_account_id: '1' }, date },
    assignments: ASSIGNMENTS.map((id) => ({ item: { id, name: `Essay ${id}`, points_possible: 10 }, date })),
    // One answer per key, as Canvas gives.
    submissions: [...new Map(submissions.map((s) => [`${s.assignment}/${s.student}`, s])).values()].map((s, i) => ({
      item: { id: String(9000 + i), assignment_id: s.assignment, user_id: s.student, score: s.score, grade: s.score === null ? null : String(s.score), posted_at: s.posted ? '2026-09-30T00:00:00Z' : null, workflow_state: 'graded' },
      date,
    })),
    enrollments: [...new Map(enrollments.map((e) => [e.student, e])).values()].map((e) => ({
      item: { user_id: e.student, sis_user_id: `S-${e.student}`, enrollment_state: 'active', grades: { current_score: e.current, final_score: e.final, ...(e.override === undefined ? {} : { override_score: e.override }) } },
      date,
    })),
    periods: [],
  }));

const event = fc
  .record({ kind: fc.constantFrom('grade_change', 'course_grade_change', 'grade_override'), at: instant, student: fc.constantFrom(...STUDENTS), assignment: fc.constantFrom(...ASSIGNMENTS), value: score, muted: fc.boolean() })
  .map(({ kind, at, student, assignment, value, muted }): NormalisedEvent => {
    const common = { instant: at, event_time: at, root_account_id: global('1'), course_id: global(COURSE), course_sis_id: 'MATH-101', student_id: global(student) };
    if (kind === 'grade_change') {
      return NormalisedEvent.parse({ kind, ...common, assignment_id: global(assignment), submission_id: null, student_sis_id: null, score: value, grade: null, points_possible: 10, grading_complete: true, muted, grader_id: null, assignment_name: null });
    }
    if (kind === 'course_grade_change') {
      return NormalisedEvent.parse({ kind, ...common, current_score: value, final_score: value, unposted_current_score: null, unposted_final_score: null, workflow_state: 'active' });
    }
    return NormalisedEvent.parse({ kind, ...common, grading_period_id: null, override_score: value });
  });

describe('a Canvas snapshot and live events fold to the later of each key', () => {
  it('in any order and batching (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(snapshot, fc.array(event, { maxLength: 8 }), fc.nat(), fc.nat(), async (snap, events, at, cut) => {
        const { records, mappings } = courseRecords(snap, SHARD);
        // Expected: per key, the record of the greatest version among the snapshot's and the events'.
        const latest = new Map<string, NormalisedEvent>();
        for (const r of [...records, ...events]) {
          const key = `${r.kind}:${keyOf(r)}`;
          const held = latest.get(key);
          if (held === undefined || compareVersions({ instant: r.instant, fp: fingerprint(r) }, { instant: held.instant, fp: fingerprint(held) }) > 0) latest.set(key, r);
        }
        const dumps: string[] = [];
        // Three arrangements: snapshot first, events first, the snapshot somewhere among events cut in two.
        const split = events.length === 0 ? 0 : cut % (events.length + 1);
        const orders: { records: NormalisedEvent[]; withSnapshot: boolean }[][] = [
          [{ records, withSnapshot: true }, { records: events, withSnapshot: false }],
          [{ records: events, withSnapshot: false }, { records, withSnapshot: true }],
          [{ records: events.slice(0, split), withSnapshot: false }, { records: [...records].reverse(), withSnapshot: true }, { records: events.slice(split), withSnapshot: false }],
        ];
        for (const order of [orders[at % 3]!, orders[(at + 1) % 3]!]) {
          const store = await openStore('sqlite::memory:');
          try {
            for (const part of order) await store.apply({ records: part.records, mappings: part.withSnapshot ? mappings : [], quarantine: [] });
            dumps.push(await store.dump());
            const stored = storedByKey(await store.courseRows(global(COURSE)));
            // The stored values are the latest record's for every key (drift counts no difference).
            expect(drift([...latest.values()], stored)).toMatchObject({
              assignment: { changed: 0, new: 0 },
              course: { changed: 0, new: 0 },
              override: { changed: 0, new: 0 },
            });
          } finally {
            await store.close();
          }
        }
        expect(dumps[1]).toBe(dumps[0]);
      }),
      { numRuns: 150 },
    );
  });

  it('drift: a second identical read confirms everything; a grade changed in Canvas is drift; a new key is new', async () => {
    const snap: CourseSnapshot = {
      course: { item: { id: COURSE, sis_course_id: 'MATH-101', root_account_id: '1' }, date: T0 },
      assignments: [{ item: { id: '355', name: 'Essay', points_possible: 10 }, date: T0 }],
      submissions: [
        { item: { id: '1', assignment_id: '355', user_id: '48', score: 7, grade: '7', posted_at: '2026-09-30T00:00:00Z', workflow_state: 'graded' }, date: T0 },
        // Not graded, and no stored key: says nothing.
        { item: { id: '2', assignment_id: '355', user_id: '49', score: null, grade: null, posted_at: null, workflow_state: 'unsubmitted' }, date: T0 },
      ],
      enrollments: [{ item: { user_id: '48', sis_user_id: 'S-48', enrollment_state: 'active', grades: { current_score: 70, final_score: 70 } }, date: T0 }],
      periods: [],
    };
    const store = await openStore('sqlite::memory:');
    try {
      const first = courseRecords(snap, SHARD);
      expect(first.records.map((r) => r.kind)).toEqual(['course_grade_change', 'grade_change']);
      expect(drift(first.records, storedByKey(await store.courseRows(global(COURSE))))).toMatchObject({ assignment: { new: 1 }, course: { new: 1 } });
      await store.apply({ records: first.records, mappings: first.mappings, quarantine: [] });
      const again = courseRecords({ ...snap, course: { ...snap.course, date: T0 + 5000 } }, SHARD);
      expect(drift(again.records, storedByKey(await store.courseRows(global(COURSE))))).toMatchObject({ assignment: { confirmed: 1, changed: 0, new: 0 }, course: { confirmed: 1 } });
      const changed = { ...snap, submissions: [{ ...snap.submissions[0]!, item: { ...snap.submissions[0]!.item, score: 9, grade: '9' } }] };
      expect(drift(courseRecords(changed, SHARD).records, storedByKey(await store.courseRows(global(COURSE))))).toMatchObject({ assignment: { changed: 1 } });
      // A grade removed in Canvas since: the ungraded submission of a stored key is read, as drift.
      const removed = { ...snap, submissions: [{ ...snap.submissions[0]!, item: { ...snap.submissions[0]!.item, score: null, grade: null } }] };
      const stored = storedByKey(await store.courseRows(global(COURSE)));
      expect(drift(courseRecords(removed, SHARD, storedKeys(stored)).records, stored)).toMatchObject({ assignment: { changed: 1 } });
      expect((await store.inspect(global('48'))).student_sis_id).toBe('S-48');

      // An override Canvas shows, then no longer shows (cleared: Canvas drops the key): folded as cleared.
      const withOverride = { ...snap, enrollments: [{ ...snap.enrollments[0]!, item: { ...snap.enrollments[0]!.item, grades: { current_score: 70, final_score: 70, override_score: 95 } } }] };
      const set = courseRecords(withOverride, SHARD, storedKeys(storedByKey(await store.courseRows(global(COURSE)))));
      await store.apply({ records: set.records, mappings: set.mappings, quarantine: [] });
      const later = { ...snap, course: { ...snap.course, date: T0 + 9000 }, enrollments: [{ ...snap.enrollments[0]!, date: T0 + 9000 }] };
      const afterSet = storedByKey(await store.courseRows(global(COURSE)));
      const cleared = courseRecords(later, SHARD, storedKeys(afterSet));
      expect(cleared.records.filter((r) => r.kind === 'grade_override')).toMatchObject([{ override_score: null, grading_period_id: null }]);
      expect(drift(cleared.records, afterSet)).toMatchObject({ override: { changed: 1 } });
      await store.apply({ records: cleared.records, mappings: cleared.mappings, quarantine: [] });
      expect((await store.inspect(global('48'))).course_overrides).toMatchObject([{ override_score: null }]);
      // Cleared and stored as cleared: nothing more to fold for it.
      const again2 = courseRecords(later, SHARD, storedKeys(storedByKey(await store.courseRows(global(COURSE)))));
      expect(again2.records.filter((r) => r.kind === 'grade_override')).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
