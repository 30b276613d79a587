import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeCsv, encodeJsonl, oneRosterFiles, PIECE_BYTES, zipOneRoster } from '../../src/sinks/formats/index.js';
import type { FeedRow } from '../../src/sync/feed-row.js';
import type { SyncEngine } from '../../src/sync/engine.js';
import { backends, openTestStore, type TestStore } from '../support/stores.js';
import { A1, A2, A3, A4, A5, A9, C1, C2, P1, S1, S2, courseScore, engine, fold, grade, override, readBatch, tempDir } from './world.js';

const HEADER =
  'record_type,op,root_account_id,course_id,course_sis_id,student_id,student_sis_id,assignment_id,grading_period_id,score,grade,points_possible,current_score,final_score,override_score,grading_complete,changed_at\r\n';

// Page size 2 makes every step cross many candidate pages: the bytes must not depend on it.
const cases = backends.flatMap((backend) => [1000, 2].map((pageSize) => ({ backend, name: backend.name, pageSize })));

describe.each(cases)('the SIS batch feed, golden bytes ($name, $pageSize candidates a page)', ({ backend, pageSize }) => {
  let t: TestStore;
  let sync: SyncEngine;
  let outbox: string;
  beforeEach(async () => {
    t = await openTestStore(backend);
    outbox = tempDir('outbox');
    sync = await engine(t.store, '- {id: nightly, hourOfDay: 2, postedBy: Ada Admin}', `file:${outbox}`, { pageSize });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const runNow = async () => {
    const entry = await sync.runSchedule('nightly', { by: 'Grace' });
    expect(entry.status, entry.error ?? '').toBe('succeeded');
    return { entry, csv: readBatch(entry.batch) };
  };

  it('sends exactly the changes, in SPEC §6 order, across four syncs', async () => {
    await fold(
      t.store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }),
      grade('2026-03-01T10:01:00Z', { assignment: A2, student: S1, score: 7, grade: 'B' }),
      grade('2026-03-01T10:02:00Z', { assignment: A3, student: S1, score: 9, muted: true }), // unposted: held
      grade('2026-03-01T10:03:00Z', { assignment: A1, student: S2, score: 6 }), // no SIS id for S2: held
      grade('2026-03-01T10:04:00Z', { assignment: A4, student: S1, course: C2, courseSis: null, score: 3 }), // course unmapped
      grade('2026-03-01T10:05:00Z', { assignment: A9, student: S1, score: 4.5, complete: null, grade: 'C, "ok"' }),
      courseScore('2026-03-01T11:00:00Z', { student: S1, current: 85.25, final: 80 }),
      override('2026-03-01T11:30:00Z', { student: S1, score: 90 }), // merges with the course score
      override('2026-03-01T11:40:00Z', { student: S1, period: P1, score: 75 }), // a row of its own
    );
    const first = await runNow();
    expect(first.csv).toBe(
      HEADER +
        `assignment,upsert,21070000000000001,${C1},MATH-101,${S1},ABC.123,${A9},,4.5,"C, ""ok""",10,,,,false,2026-03-01T10:05:00.000Z\r\n` +
        `assignment,upsert,21070000000000001,${C1},MATH-101,${S1},ABC.123,${A1},,5,5,10,,,,true,2026-03-01T10:00:00.000Z\r\n` +
        `assignment,upsert,21070000000000001,${C1},MATH-101,${S1},ABC.123,${A2},,7,B,10,,,,true,2026-03-01T10:01:00.000Z\r\n` +
        `course,upsert,21070000000000001,${C1},MATH-101,${S1},ABC.123,,,90,,,85.25,80,90,,2026-03-01T11:30:00.000Z\r\n` +
        `course,upsert,21070000000000001,${C1},MATH-101,${S1},ABC.123,,${P1},75,,,,,75,,2026-03-01T11:40:00.000Z\r\n`,
    );
    expect(first.entry).toMatchObject({
      rows: 5,
      rows_by: { assignment: { upsert: 3, delete: 0 }, course: { upsert: 2, delete: 0 } },
      held: { unposted: 1, student_unmapped: 1, course_unmapped: 1 },
    });

    await fold(
      t.store,
      grade('2026-03-02T09:00:00Z', { assignment: A2, student: S1, score: 8, grade: 'B+' }), // A → B …
      grade('2026-03-02T09:05:00Z', { assignment: A2, student: S1, score: 7, grade: 'B' }), // … → A: no row
      grade('2026-03-02T09:10:00Z', { assignment: A3, student: S1, score: 9, muted: false }), // posted
      grade('2026-03-02T09:20:00Z', { assignment: A2, student: S2, studentSis: 'S-0002', score: 1 }), // S2 mapped
      grade('2026-03-02T09:30:00Z', { assignment: A5, student: S1, course: C2, courseSis: 'ENG-7', score: 2 }), // C2 mapped
    );
    const second = await runNow();
    expect(second.csv).toBe(
      HEADER +
        `assignment,upsert,21070000000000001,${C2},ENG-7,${S1},ABC.123,${A4},,3,3,10,,,,true,2026-03-01T10:04:00.000Z\r\n` +
        `assignment,upsert,21070000000000001,${C2},ENG-7,${S1},ABC.123,${A5},,2,2,10,,,,true,2026-03-02T09:30:00.000Z\r\n` +
        `assignment,upsert,21070000000000001,${C1},MATH-101,${S1},ABC.123,${A3},,9,9,10,,,,true,2026-03-02T09:10:00.000Z\r\n` +
        `assignment,upsert,21070000000000001,${C1},MATH-101,${S2},S-0002,${A1},,6,6,10,,,,true,2026-03-01T10:03:00.000Z\r\n` +
        `assignment,upsert,21070000000000001,${C1},MATH-101,${S2},S-0002,${A2},,1,1,10,,,,true,2026-03-02T09:20:00.000Z\r\n`,
    );
    expect(second.entry.held).toEqual({ unposted: 0, student_unmapped: 0, course_unmapped: 0 });

    // The course score is deleted: both course rows of the student were delivered, both are deleted.
    await fold(t.store, courseScore('2026-03-03T08:00:00Z', { student: S1, current: 85.25, final: 80, workflow: 'deleted' }));
    const third = await runNow();
    expect(third.csv).toBe(
      HEADER +
        `course,delete,21070000000000001,${C1},MATH-101,${S1},ABC.123,,,,,,,,,,2026-03-03T08:00:00.000Z\r\n` +
        `course,delete,21070000000000001,${C1},MATH-101,${S1},ABC.123,,${P1},,,,,,,,2026-03-03T08:00:00.000Z\r\n`,
    );
    expect(third.entry.rows_by.course).toEqual({ upsert: 0, delete: 2 });

    // Nothing changed: a header-only batch, so the SIS can tell "nothing changed" from "no sync ran".
    const fourth = await runNow();
    expect(fourth.csv).toBe(HEADER);
    expect(fourth.entry.rows).toBe(0);
    expect(fourth.entry.batch).not.toBe(third.entry.batch);
  });
});

describe.each(backends)('JSON Lines and OneRoster batches ($name)', (backend) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await openTestStore(backend);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('OneRoster line items are titled with the assignment names Canvas gave (by an event or a reconciliation)', async () => {
    await fold(t.store, grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, name: 'Essay 1' }), grade('2026-03-01T10:00:00Z', { assignment: A3, student: S1 }));
    await t.store.apply({ records: [grade('2026-03-01T10:00:00Z', { assignment: A2, student: S1 })], quarantine: [], mappings: [{ table: 'assignment_names', key: A2, value: 'Quiz "2", part b', instant: Date.parse('2026-03-02T00:00:00Z') }] });
    const dir = tempDir('oneroster-titles');
    const sync = await engine(t.store, `- {id: or, hourOfDay: 2, postedBy: Ada, format: oneroster, sink: "file:${dir}"}`, 'file:./unused');
    const entry = await sync.runSchedule('or', { by: 'Grace' });
    expect(entry).toMatchObject({ status: 'succeeded', rows: 3 });
    const lineItems = Buffer.from(unzipSync(readFileSync(entry.batch!))['lineItems.csv']!).toString('utf8').split('\r\n');
    expect(lineItems.find((l) => l.startsWith(`li-${A1},`))).toContain(',Essay 1,');
    expect(lineItems.find((l) => l.startsWith(`li-${A2},`))).toContain(',"Quiz ""2"", part b",');
    expect(lineItems.find((l) => l.startsWith(`li-${A3},`))).toContain(`,Assignment ${A3},`);
  });

  it('carry the same rows as the CSV, in pieces across more than 1 MiB, byte for byte as the encoders write them', async () => {
    // 3,000 assignment rows: the JSON Lines file (about 1.4 MB) is persisted and delivered in two pieces.
    const assignments = Array.from({ length: 3000 }, (_, i) => String(21070000000100000n + BigInt(i)));
    await fold(t.store, ...assignments.map((a, i) => grade('2026-03-01T10:00:00Z', { assignment: a, student: S1, score: i / 4 })));
    await fold(t.store, courseScore('2026-03-01T11:00:00Z', { student: S1, current: 85.25, final: 80 }));
    const dirs = { csv: tempDir('csv'), jsonl: tempDir('jsonl'), oneroster: tempDir('oneroster') };
    const yaml = Object.entries(dirs)
      .map(([format, dir]) => `- {id: ${format}, hourOfDay: 2, postedBy: Ada, format: ${format}, sink: "file:${dir}"}`)
      .join('\n');
    const sync = await engine(t.store, yaml, 'file:./unused');
    const entries = Object.fromEntries(
      await Promise.all(Object.keys(dirs).map(async (id) => [id, await sync.runSchedule(id, { by: 'Grace' })] as const)),
    );
    for (const e of Object.values(entries)) expect(e, e.error ?? '').toMatchObject({ status: 'succeeded', rows: 3001 });

    const jsonl = readBatch(entries['jsonl']!.batch);
    expect(jsonl.length).toBeGreaterThan(PIECE_BYTES);
    const rows = jsonl
      .split('\n')
      .slice(0, -1)
      .map((line) => {
        const o = JSON.parse(line) as FeedRow & { changed_at: string };
        return { ...o, changed_at: Date.parse(o.changed_at) } as FeedRow;
      });
    expect(Buffer.from(encodeJsonl(rows)).toString('utf8')).toBe(jsonl);
    expect(readBatch(entries['csv']!.batch)).toBe(Buffer.from(encodeCsv(rows)).toString('utf8'));
    expect(Buffer.from(readFileSync(entries['oneroster']!.batch!)).equals(Buffer.from(zipOneRoster(oneRosterFiles(rows))))).toBe(true);
  });
});
