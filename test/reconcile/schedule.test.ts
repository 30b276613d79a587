import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { canvasReconciler, reconcileMetrics, reconcileProblems } from '../../src/reconcile/schedule.js';
import { CanvasApi } from '../../src/sources/canvas/api.js';
import { CanvasClient } from '../../src/sources/canvas/client.js';
import { canvasReader } from '../../src/sources/canvas/reader.js';
import { openStore, type StateStore } from '../../src/state/store.js';
import type { SyncEngine } from '../../src/sync/engine.js';
import { parseSchedules } from '../../src/sync/schedules.js';
import { CanvasStandin } from '../support/canvas-standin.js';
import { engine as openEngine } from '../sync/world.js';

/** Reconciliation schedules (issue 14): in the schedules file, run like sync schedules, in the same history. */
let standin: CanvasStandin;
let store: StateStore;
let dir: string;
let engine: SyncEngine;
let registry: Registry;

const YAML = (course: number) => `
- {id: nightly, hourOfDay: 2, postedBy: Registrar}
- id: canvas-check
  hourOfDay: 1
  timeZone: America/Denver
  postedBy: Registrar
  reconcile: {courses: ["${course}"]}
`;

beforeEach(async () => {
  standin = await CanvasStandin.start();
  dir = mkdtempSync(join(tmpdir(), 'gradestream-reconcile-schedule-'));
  store = await openStore(`sqlite:${join(dir, 'state.db')}`);
  registry = new Registry();
});
afterEach(async () => {
  await engine?.close();
  await store.close();
  await standin.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(course: number, withCanvas = true): Promise<SyncEngine> {
  const client = new CanvasClient({ baseUrl: standin.url, token: standin.token });
  const reconciler = withCanvas
    ? canvasReconciler({ store, reader: canvasReader(new CanvasApi(client)), origin: client.origin, shard: '2107', metrics: reconcileMetrics(registry) })
    : undefined;
  engine = await openEngine(store, YAML(course), `file:${join(dir, 'outbox')}`, { reconciler });
  return engine;
}

describe('reconciliation schedules', () => {
  it('are read from the schedules file, and refused when mis-written', () => {
    const [, r] = parseSchedules(YAML(101));
    expect(r).toMatchObject({ id: 'canvas-check', reconcile: { courses: ['101'] } });
    expect(parseSchedules('- {id: a, hourOfDay: 1, postedBy: X, reconcile: {account: 7, term: "3"}}')[0]!.reconcile).toEqual({ account: '7', term: '3' });
    const problems = (yaml: string) => {
      try {
        parseSchedules(yaml);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems('- {id: a, hourOfDay: 1, postedBy: X, reconcile: {courses: ["1"], account: "2"}}').join()).toMatch(/courses or account, not both/);
    expect(problems('- {id: a, hourOfDay: 1, postedBy: X, reconcile: {term: "2", courses: ["1"]}}').join()).toMatch(/term needs account/);
    expect(problems('- {id: a, hourOfDay: 1, postedBy: X, sink: "file:/tmp/x", reconcile: {courses: ["1"]}}').join()).toMatch(/sink does not apply/);
    expect(problems('- {id: a, hourOfDay: 1, postedBy: X, reconcile: {courses: ["x"]}}')).not.toEqual([]);
    expect(reconcileProblems(parseSchedules(YAML(1)), {})).toEqual([
      'schedule canvas-check reconciles with Canvas: set GRADESTREAM_CANVAS_URL and GRADESTREAM_CANVAS_TOKEN',
    ]);
  });

  it('are listed, run now, paused and run at their hour like sync schedules, in the same history', async () => {
    const course = standin.addCourse({ students: 4, assignments: 2 });
    const e = await open(course.id);
    const listed = await e.list(Date.parse('2025-03-03T12:00:00Z'));
    expect(listed.find((s) => s.id === 'canvas-check')).toMatchObject({ kind: 'reconcile', format: null, target: `canvas:${standin.url}`, reconcile: { courses: [String(course.id)] } });
    expect(listed.find((s) => s.id === 'nightly')).toMatchObject({ kind: 'sync', format: 'csv' });
    expect(e.targets()).toEqual([`file:${join(dir, 'outbox')}`]); // a reconciliation is no SIS target

    const now = await e.runSchedule('canvas-check', { by: 'Ada' });
    expect(now).toMatchObject({ kind: 'reconcile', trigger: 'manual', triggered_by: 'Ada', status: 'succeeded', target: `canvas:${standin.url}` });
    expect(now.reconcile).toMatchObject({ shard: '2107', scope: `courses:${course.id}`, courses: { reconciled: 1 }, drift: { course: { new: 4 } } });
    expect((await store.counts()).course_score).toBe(4);
    const counted = (await registry.getSingleMetric('gradestream_reconcile_keys_total')!.get()).values;
    expect(counted.find((v) => v.labels['record_type'] === 'course' && v.labels['result'] === 'new')?.value).toBe(4);
    expect(counted).toHaveLength(9); // every label set, from start

    const dry = await e.runSchedule('canvas-check', { by: 'Ada', dryRun: true });
    expect(dry).toMatchObject({ id: null, status: 'dry_run', kind: 'reconcile', reconcile: { drift: { course: { confirmed: 4 } } } });

    const occurrence = Date.parse('2025-03-04T08:00:00Z'); // 01:00 in Denver
    const scheduled = await e.runOccurrence('canvas-check', occurrence, 'scheduled');
    expect(scheduled).toMatchObject({ kind: 'reconcile', trigger: 'scheduled', triggered_by: 'Registrar', status: 'succeeded' });
    await e.pause('canvas-check', 'Ada');
    expect(await e.runOccurrence('canvas-check', occurrence + 86_400_000, 'scheduled')).toMatchObject({ status: 'skipped', kind: 'reconcile' });
    const history = await e.runs({ schedule: 'canvas-check', limit: 10 });
    expect(history.map((h) => [h.trigger, h.status])).toEqual([['scheduled', 'skipped'], ['scheduled', 'succeeded'], ['manual', 'succeeded']]);
    expect(await e.heldCounts('canvas-check')).toEqual({ unposted: 0, student_unmapped: 0, course_unmapped: 0 });
    await expect(e.held({ schedule: 'canvas-check', limit: 10 })).rejects.toThrow(/reconciliation/);
  });

  it('without Canvas configured, a run is recorded as failed, saying what to set', async () => {
    const course = standin.addCourse({ students: 1, assignments: 1 });
    const e = await open(course.id, false);
    expect(await e.runSchedule('canvas-check', { by: 'Ada' })).toMatchObject({ status: 'failed', error: expect.stringMatching(/GRADESTREAM_CANVAS_URL and GRADESTREAM_CANVAS_TOKEN/) });
  });

  it('holds every SIS target while it folds: a sync waits, and the other way round', async () => {
    const e = await open(standin.addCourse({ students: 1 }).id);
    const release = await e.exclusive('test');
    await expect(e.sync.lockTarget(`file:${join(dir, 'outbox')}`, { timeoutMs: 200, holder: 'a sync' })).rejects.toThrow();
    await release();
    const lease = await e.sync.lockTarget(`file:${join(dir, 'outbox')}`, { timeoutMs: 200, holder: 'a sync' });
    await lease.release();
  });
});
