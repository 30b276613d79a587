import { resendView } from '../sync/engine.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { requireOne } from './schedules.js';
import { withEngine, type SyncCliOptions } from './sync-common.js';

export interface ResendOptions extends SyncCliOptions {
  course?: string;
  assignment?: string;
  all?: boolean;
  as: string;
}

/**
 * `gradestream resend (--course ID | --assignment ID | --all) --as NAME`: the SIS targets of every
 * schedule forget what they acknowledged for those keys, so each schedule's next run sends their
 * current view again (held rows stay held). Recorded with who asked.
 */
export async function resendCommand(opts: ResendOptions, io: CliIo): Promise<number> {
  const which = requireOne({ '--course': opts.course, '--assignment': opts.assignment, '--all': opts.all });
  const selector = which === '--course' ? 'course' : which === '--assignment' ? 'assignment' : 'all';
  const id = selector === 'course' ? opts.course! : selector === 'assignment' ? opts.assignment! : null;
  const request = { selector, id, by: opts.as } as const;
  const result = resendView(request, await withEngine(opts, io, (engine) => engine.resend(request)));
  if (opts.json) writeJson(io, result);
  else {
    const what = selector === 'all' ? 'everything' : `${selector} ${id}`;
    for (const t of result.targets) {
      io.stdout.write(`resend ${what} to ${t.target}: ${t.unacked} acknowledged row${t.unacked === 1 ? '' : 's'} forgotten; the next run sends them again\n`);
    }
  }
  return EXIT.ok;
}
