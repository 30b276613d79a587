import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormalisedEvent } from '../../src/intake/records.js';
import { fingerprint } from '../../src/state/fingerprint.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import { truncateAll } from '../support/postgres.js';
import { postgres } from '../support/stores.js';

/**
 * SPEC §2: the state depends only on the set of events. Random sets over a few keys, with colliding
 * instants (so fingerprints decide), folded in any order, with any duplication, cut into any batches,
 * give a byte-identical dump — on SQLite, on PostgreSQL, and the same dump on both.
 */

const T0 = Date.parse('2020-09-01T00:00:00Z');
const students = ['21070000000000048', '9223372036854775807'];
const courses = ['21070000000000565', '21070000000000566'];
const instant = fc.constantFrom(T0, T0 + 1000, T0 + 60_000);
const score = fc.option(fc.constantFrom(0, 0.5, 17.31, 100, -2.25), { nil: null });
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
const sis = maybe(fc.constantFrom('A', 'B', 'Ü'));
const root = maybe(fc.constantFrom('21070000000000001', '10000000000001'));

const common = {
  instant,
  root_account_id: root,
  student_id: fc.constantFrom(...students),
};

const gradeChange = fc.record({
  kind: fc.constant('grade_change' as const),
  ...common,
  course_id: maybe(fc.constantFrom(...courses)),
  course_sis_id: sis,
  assignment_id: fc.constantFrom('21070000000000355', '9007199254740993'),
  submission_id: maybe(fc.constant('21070000000011086')),
  student_sis_id: sis,
  score,
  grade: maybe(fc.constantFrom('A', '5', '')),
  points_possible: score,
  grading_complete: maybe(fc.boolean()),
  muted: fc.boolean(),
  grader_id: maybe(fc.constant('21070000000000987')),
  // Names of one assignment differ between events of one instant and fingerprint: their own version decides.
  assignment_name: maybe(fc.constantFrom('Essay 1', 'Essay 1 (revised)', 'Quiz')),
});

const courseGradeChange = fc.record({
  kind: fc.constant('course_grade_change' as const),
  ...common,
  course_id: fc.constantFrom(...courses),
  course_sis_id: sis,
  current_score: score,
  final_score: score,
  unposted_current_score: score,
  unposted_final_score: score,
  workflow_state: fc.constantFrom('active' as const, 'deleted' as const),
});

const gradeOverride = fc.record({
  kind: fc.constant('grade_override' as const),
  ...common,
  course_id: fc.constantFrom(...courses),
  course_sis_id: sis,
  grading_period_id: maybe(fc.constant('21070000000000047')),
  override_score: score,
});

const event: fc.Arbitrary<NormalisedEvent> = fc
  .oneof(gradeChange, courseGradeChange, gradeOverride)
  .chain((r) => fc.integer({ min: 0, max: 5000 }).map((lag) => NormalisedEvent.parse({ ...r, event_time: r.instant + lag })))
  // A course SIS id is only ever known for a known course (intake's rule).
  .map((r) => (r.course_id === null ? { ...r, course_sis_id: null } : r));

/** The set as a sequence: every event at least once, some repeated, shuffled, cut into batches. */
function arrangement(size: number): fc.Arbitrary<number[][]> {
  return fc.array(fc.nat({ max: size - 1 }), { maxLength: size }).chain((extra) => {
    const items = [...Array.from({ length: size }, (_, i) => i), ...extra];
    return fc
      .tuple(
        fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }),
        fc.array(fc.boolean(), { minLength: items.length, maxLength: items.length }),
      )
      .map(([order, cuts]) => {
        const batches: number[][] = [[]];
        order.forEach((item, i) => {
          batches[batches.length - 1]!.push(item);
          if (cuts[i] && i < order.length - 1) batches.push([]);
        });
        return batches;
      });
  });
}

const scenario = fc
  .uniqueArray(event, { minLength: 1, maxLength: 24, selector: fingerprint })
  .chain((events) => fc.tuple(fc.constant(events), arrangement(events.length), arrangement(events.length)));

async function fold(store: StateStore, events: NormalisedEvent[], batches: number[][]): Promise<string> {
  for (const batch of batches) {
    const outcomes = await store.apply({ records: batch.map((i) => events[i]!), quarantine: [] });
    expect(outcomes).toHaveLength(batch.length);
  }
  return store.dump();
}

describe('convergence: the state depends only on the set of events', () => {
  let pgUrl: string;
  let removePg: () => Promise<void>;
  let pg: StateStore;

  beforeAll(async () => {
    const storage = await postgres.storage();
    pgUrl = storage.url;
    removePg = storage.remove;
    pg = await openStore(pgUrl);
  });
  afterAll(async () => {
    await pg?.close();
    await removePg?.();
  });

  it('any order, duplication and batching gives one dump, identical on SQLite and PostgreSQL', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, first, second]) => {
        const all = [events.map((_, i) => i)];
        const dumps: string[] = [];
        for (const batches of [all, first, second]) {
          const sqlite = await openStore('sqlite::memory:');
          try {
            dumps.push(await fold(sqlite, events, batches));
          } finally {
            await sqlite.close();
          }
          await truncateAll(pgUrl);
          dumps.push(await fold(pg, events, batches));
        }
        for (const d of dumps) expect(d).toBe(dumps[0]);
      }),
      { numRuns: 40 },
    );
  });

  it('applied counts equal the number of distinct winners folded in order, whatever the batching', async () => {
    // Counts are those of folding one record at a time, so cutting batches elsewhere cannot change them.
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, first]) => {
        const flat = first.flat();
        const counts: string[] = [];
        for (const batches of [first, flat.map((i) => [i]), [flat]]) {
          const sqlite = await openStore('sqlite::memory:');
          const outcomes: string[] = [];
          for (const b of batches) outcomes.push(...(await sqlite.apply({ records: b.map((i) => events[i]!), quarantine: [] })));
          counts.push(outcomes.join(','));
          await sqlite.close();
        }
        expect(counts[1]).toBe(counts[0]);
        expect(counts[2]).toBe(counts[0]);
      }),
      { numRuns: 100 },
    );
  });

  it('batches applied without waiting fold as if one after another: same outcomes, same dump (SQLite file, PostgreSQL)', async () => {
    // A caller may hand the store its next batch before the last one committed; the SQLite writer
    // thread then folds the queued batches in one transaction, PostgreSQL one after another.
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-convergence-'));
    try {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(scenario, async ([events, batches]) => {
          const records = batches.map((b) => b.map((i) => events[i]!));
          const memory = await openStore('sqlite::memory:');
          const expected: string[] = [];
          for (const r of records) expected.push(...(await memory.apply({ records: r, quarantine: [] })));
          const dump = await memory.dump();
          await memory.close();

          const file = await openStore(`sqlite:${join(dir, `run-${run++}.db`)}`);
          await truncateAll(pgUrl);
          for (const store of [file, pg]) {
            const outcomes = await Promise.all(records.map((r) => store.apply({ records: r, quarantine: [] })));
            expect(outcomes.flat().join(',')).toBe(expected.join(','));
            expect(await store.dump()).toBe(dump);
          }
          await file.close();
        }),
        { numRuns: 25 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
