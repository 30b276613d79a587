import { UsageError } from '../errors.js';
import { openStore, type StudentState } from '../state/store.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

export interface InspectOptions extends SharedOptions {
  student: string;
  course?: string;
}

const CANONICAL_ID = /^(0|[1-9][0-9]{0,18})$/;

function id(flag: string, value: string): string {
  if (!CANONICAL_ID.test(value)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a canonical (global) id`);
  return value;
}

/**
 * `gradestream inspect --student ID [--course ID]`: what the state store holds for one student. Ids
 * are canonical global ids, as stored. A student with nothing stored is not an error: the state is
 * empty. A missing SQLite file is (exit 1): it usually means a wrong --state.
 */
export async function inspectCommand(opts: InspectOptions, io: CliIo): Promise<number> {
  const student = id('--student', opts.student);
  const course = opts.course === undefined ? undefined : id('--course', opts.course);
  const config = commandConfig(opts, io);
  const store = await openStore(config.stateUrl, { mustExist: true });
  let state: StudentState;
  try {
    state = await store.inspect(student, course);
  } finally {
    await store.close();
  }
  if (opts.json) writeJson(io, state);
  else io.stdout.write(human(state));
  return EXIT.ok;
}

const show = (v: unknown): string => (v === null || v === undefined ? '-' : String(v));

function human(s: StudentState): string {
  const lines = [`student ${s.student_id} (SIS id ${show(s.student_sis_id)})`];
  const empty = s.assignment_scores.length + s.course_scores.length + s.course_overrides.length === 0;
  if (empty) lines.push('  no grades stored');
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
