import { UsageError } from '../errors.js';
import { canonicalId, shardOf } from '../intake/ids.js';
import { openStore, type StateStore, type StudentState } from '../state/store.js';
import { NotFoundError } from '../sync/errors.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

export interface InspectOptions extends SharedOptions {
  student?: string;
  studentSis?: string;
  course?: string;
}

const CANONICAL_ID = /^(0|[1-9][0-9]{0,18})$/;

function id(flag: string, value: string): string {
  if (!CANONICAL_ID.test(value)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a canonical (global) id`);
  return value;
}

/**
 * `gradestream inspect (--student ID | --student-sis SIS_ID) [--course ID]`: what the state store
 * holds for one student. Ids are canonical global ids, as stored; an SIS id (what a registrar has) is
 * looked up among the SIS ids the store has learned. A student with nothing stored is not an error:
 * the state is empty — with a hint when the id given looks local (Canvas shows local ids). An SIS id
 * nobody has is (exit 1). A missing SQLite file is too (exit 1): it usually means a wrong --state.
 */
export async function inspectCommand(opts: InspectOptions, io: CliIo): Promise<number> {
  if ((opts.student === undefined) === (opts.studentSis === undefined)) throw new UsageError('give exactly one of --student ID, --student-sis SIS_ID');
  const given = opts.student === undefined ? undefined : id('--student', opts.student);
  const course = opts.course === undefined ? undefined : id('--course', opts.course);
  const config = commandConfig(opts, io);
  const store = await openStore(config.stateUrl, { mustExist: true });
  let state: StudentState;
  let hint: string | undefined;
  try {
    state = await store.inspect(given ?? (await bySisId(store, opts.studentSis!)), course);
    if (given !== undefined && empty(state) && shardOf(given) === null) hint = localIdHint(given, await store.shards());
  } finally {
    await store.close();
  }
  if (opts.json) writeJson(io, state);
  else io.stdout.write(human(state));
  if (hint !== undefined) io.stderr.write(hint);
  return EXIT.ok;
}

async function bySisId(store: StateStore, sisId: string): Promise<string> {
  const students = await store.studentsWithSisId(sisId);
  if (students.length === 0) {
    throw new NotFoundError(`no student has SIS id ${JSON.stringify(sisId)} in the state store (SIS ids are learned from events and \`mappings import\`)`);
  }
  if (students.length > 1) throw new UsageError(`SIS id ${JSON.stringify(sisId)} belongs to students ${students.join(', ')}: give --student ID`);
  return students[0]!;
}

const empty = (s: StudentState): boolean => s.assignment_scores.length + s.course_scores.length + s.course_overrides.length === 0;

/** Canvas's pages show local ids; the store keys students by global ones (shard × 10^13 + local id). */
function localIdHint(local: string, shards: readonly string[]): string {
  const tries = shards.map((shard) => `--student ${canonicalId(local, shard, '--student')}`);
  const global = tries.length > 0 ? `try ${tries.join(' or ')}` : `e.g. in shard 2107 it is ${canonicalId(local, '2107', '--student')}`;
  return `gradestream: ${local} looks like a local Canvas id; the store keys students by global ids (shard × 10^13 + local id): ${global}; or give --student-sis with the student's SIS id\n`;
}

const show = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

function human(s: StudentState): string {
  const lines = [`student ${s.student_id} (SIS id ${show(s.student_sis_id)})`];
  if (empty(s)) lines.push('  no grades stored');
  for (const c of s.courses) {
    lines.push(`  course ${c.course_id} (SIS id ${show(c.course_sis_id)}, root account ${show(c.root_account_id)})`);
    for (const cs of s.course_scores.filter((x) => x.course_id === c.course_id)) {
      lines.push(
        `    course score: current ${show(cs.current_score)}, final ${show(cs.final_score)}, ` +
          `unposted current ${show(cs.unposted_current_score)}, unposted final ${show(cs.unposted_final_score)}, ` +
          `${cs.workflow_state}, at ${cs.instant}`,
      );
    }
    for (const o of s.course_overrides.filter((x) => x.course_id === c.course_id)) {
      const period = o.grading_period_id === null ? 'no grading period' : `grading period ${o.grading_period_id}`;
      lines.push(`    override (${period}): ${o.override_score === null ? 'cleared' : o.override_score}, at ${o.instant}`);
    }
    for (const a of s.assignment_scores.filter((x) => x.course_id === c.course_id)) lines.push(assignment(a));
  }
  for (const a of s.assignment_scores.filter((x) => x.course_id === null)) {
    lines.push('  no course known');
    lines.push(assignment(a));
  }
  return `${lines.join('\n')}\n`;
}

function assignment(a: StudentState['assignment_scores'][number]): string {
  return (
    `    assignment ${a.assignment_id}: score ${show(a.score)}, grade ${show(a.grade)}, points possible ` +
    `${show(a.points_possible)}, ${a.muted ? 'unposted' : 'posted'}, grading complete ${show(a.grading_complete)}, at ${a.instant}`
  );
}
