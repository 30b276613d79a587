import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NormalisedEvent } from '../../src/intake/records.js';
import type { StateStore } from '../../src/state/store.js';
import { SyncEngine, type SyncEngineOptions } from '../../src/sync/engine.js';
import { parseSchedules, type Schedule } from '../../src/sync/schedules.js';
import { courseGradeChange, gradeChange, gradeOverride, record } from '../support/grades.js';

/**
 * A small Canvas world for the sync tests: two root accounts, courses with and without SIS ids,
 * students with and without SIS ids, and builders for the three events with exactly the ids, times
 * and values a test names. All ids are global (canonical as given).
 */
export const ROOT_1 = '21070000000000001';
export const ROOT_2 = '21070000000000002';
export const C1 = '21070000000000565'; // SIS MATH-101, root 1
export const C2 = '21070000000000566'; // SIS id taught late, root 1
export const C3 = '21070000000000777'; // SIS BIO-200, root 2
export const S1 = '21070000000000048'; // SIS ABC.123
export const S2 = '21070000000000049'; // SIS id taught late
export const A1 = '21070000000000355';
export const A2 = '21070000000000356';
export const A3 = '21070000000000357';
export const A4 = '21070000000000358';
export const A5 = '21070000000000359';
export const A9 = '21070000000000009'; // numerically before the others: sorts first
export const P1 = '21070000000000047';

export const COURSE_SIS: Record<string, string> = { [C1]: 'MATH-101', [C2]: 'ENG-7', [C3]: 'BIO-200' };
export const ROOT_OF: Record<string, string> = { [C1]: ROOT_1, [C2]: ROOT_1, [C3]: ROOT_2 };

export interface GradeFields {
  assignment: string;
  student: string;
  course?: string;
  /** the student's SIS id carried by the event (null: not carried) */
  studentSis?: string | null;
  /** the course's SIS id carried by the event (null: not carried) */
  courseSis?: string | null;
  /** the root account the event names (else the course's, ROOT_OF) */
  root?: string;
  score?: number | null;
  grade?: string | null;
  points?: number | null;
  muted?: boolean | null;
  complete?: boolean | null;
  /** the assignment's name the event carries */
  name?: string;
}

const meta = (course: string, courseSis: string | null | undefined, root = ROOT_OF[course]) => ({
  context_type: 'Course',
  context_id: course,
  context_sis_source_id: courseSis === undefined ? COURSE_SIS[course] : courseSis,
  root_account_id: root,
});

export function grade(at: string, f: GradeFields): NormalisedEvent {
  const course = f.course ?? C1;
  return record(
    gradeChange(
      at,
      {
        assignment_id: f.assignment,
        student_id: f.student,
        user_id: f.student,
        student_sis_id: f.studentSis === undefined ? (f.student === S1 ? 'ABC.123' : null) : f.studentSis,
        score: f.score === undefined ? 5 : f.score,
        grade: f.grade === undefined ? String(f.score ?? 5) : f.grade,
        points_possible: f.points === undefined ? 10 : f.points,
        muted: f.muted === undefined ? false : f.muted,
        grading_complete: f.complete === undefined ? true : f.complete,
        submission_id: '21070000000011086',
        ...(f.name === undefined ? {} : { assignment_name: f.name }),
      },
      meta(course, f.courseSis, f.root),
    ),
  );
}

export function courseScore(
  at: string,
  f: { course?: string; student: string; current?: number | null; final?: number | null; workflow?: 'active' | 'deleted' },
): NormalisedEvent {
  const course = f.course ?? C1;
  return record(
    courseGradeChange(
      at,
      {
        user_id: f.student,
        course_id: course,
        current_score: f.current ?? null,
        final_score: f.final ?? null,
        unposted_current_score: 99.5,
        unposted_final_score: 98.5,
        old_current_score: null,
        old_final_score: null,
        old_unposted_current_score: null,
        old_unposted_final_score: null,
        workflow_state: f.workflow ?? 'active',
      },
      meta(course, undefined),
    ),
  );
}

export function override(at: string, f: { course?: string; student: string; period?: string | null; score: number | null }): NormalisedEvent {
  const course = f.course ?? C1;
  return record(
    gradeOverride(
      at,
      { user_id: f.student, course_id: course, grading_period_id: f.period ?? null, override_score: f.score, old_override_score: null },
      meta(course, undefined),
    ),
  );
}

export async function fold(store: StateStore, ...records: NormalisedEvent[]): Promise<void> {
  await store.apply({ records, quarantine: [] });
}

export function schedules(yaml: string): Schedule[] {
  return parseSchedules(yaml, { source: 'test schedules' });
}

export const tempDir = (name: string): string => mkdtempSync(join(tmpdir(), `gradestream-${name}-`));

export async function engine(state: StateStore, yaml: string, sinkUrl: string, extra: Partial<SyncEngineOptions> = {}): Promise<SyncEngine> {
  return SyncEngine.open({ state, schedules: schedules(yaml), sinkUrl, lockTimeoutMs: 20_000, ...extra });
}

/** The file a batch location names, as text. */
export const readBatch = (location: string | null): string => {
  if (location === null) throw new Error('no batch location');
  return readFileSync(location, 'utf8');
};

export const filesIn = (dir: string): string[] => readdirSync(dir).filter((f) => !f.startsWith('.')).sort();

/** Runs `work` while the engine's acknowledgement throws `error`: a run delivers, then "dies" before its ack. */
export async function withAckFailing<T>(sync: SyncEngine, error: Error, work: () => Promise<T>): Promise<T> {
  const store = sync.sync;
  const ack = store.ackBatch;
  store.ackBatch = async () => {
    throw error;
  };
  try {
    return await work();
  } finally {
    store.ackBatch = ack;
  }
}

/** Runs `work` while a file sink's directory is a file: every delivery there is refused (an unwritable directory). */
export async function withOutboxBlocked<T>(outbox: string, work: () => Promise<T>): Promise<T> {
  renameSync(outbox, `${outbox}.away`);
  writeFileSync(outbox, '');
  try {
    return await work();
  } finally {
    rmSync(outbox);
    renameSync(`${outbox}.away`, outbox);
  }
}
