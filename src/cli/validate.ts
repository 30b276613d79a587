import { intakeText, invalidUtf8 } from '../intake/index.js';
import { checkReadable, readLines } from './lines.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

/** One line that did not come out valid: its position and verdict. */
interface Finding {
  file: string;
  line: number;
  verdict: 'ignored' | 'quarantined';
  reason?: string;
  event_name?: string;
  detail?: string;
}

const increment = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Counts by a name from the input: no prototype, so "__proto__" or "toString" is a name like any other. */
const tally = (): Record<string, number> => Object.create(null) as Record<string, number>;

/**
 * `gradestream validate FILE...`: intake on every line, nothing written. Exit 0 when every line is
 * valid or ignored, 1 when any is quarantined (2 for unusable arguments, raised before this runs).
 */
export async function validate(files: string[], opts: SharedOptions, io: CliIo): Promise<number> {
  // Only the future bound is used, but a command line with a bad setting is refused as by every command.
  const { maxFutureSeconds } = commandConfig(opts, io);
  await checkReadable(files);
  const counts = { received: 0, valid: 0, ignored: 0, quarantined: 0 };
  const byKind = tally();
  const ignoredByEvent = tally();
  const quarantinedByReason = tally();
  const findings: Finding[] = [];
  const report = (f: Finding): void => {
    if (opts.json) findings.push(f);
    else if (f.verdict === 'ignored') io.stdout.write(`${f.file}:${f.line}: ignored: event_name ${f.event_name}\n`);
    else io.stdout.write(`${f.file}:${f.line}: quarantined: ${f.reason}: ${f.detail}\n`);
  };

  for await (const { file, line, text, bytes } of readLines(files, io.stdin)) {
    counts.received += 1;
    const verdict = bytes === undefined ? intakeText(text, { maxFutureMs: maxFutureSeconds * 1000 }) : invalidUtf8(bytes);
    switch (verdict.outcome) {
      case 'valid':
        counts.valid += 1;
        increment(byKind, verdict.kind);
        break;
      case 'ignored':
        counts.ignored += 1;
        increment(ignoredByEvent, verdict.eventName);
        report({ file, line, verdict: 'ignored', event_name: verdict.eventName });
        break;
      case 'quarantined':
        counts.quarantined += 1;
        increment(quarantinedByReason, verdict.reason);
        report({ file, line, verdict: 'quarantined', reason: verdict.reason, detail: verdict.detail });
        break;
    }
  }

  if (opts.json) {
    writeJson(io, {
      ...counts,
      by_kind: byKind,
      ignored_by_event: ignoredByEvent,
      quarantined_by_reason: quarantinedByReason,
      lines: findings,
    });
  } else {
    const kinds = Object.entries(byKind)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    io.stdout.write(
      `${counts.received} received: ${counts.valid} valid${kinds ? ` (${kinds})` : ''}, ` +
        `${counts.ignored} ignored, ${counts.quarantined} quarantined\n`,
    );
  }
  return counts.quarantined > 0 ? EXIT.failed : EXIT.ok;
}
