import { Command, CommanderError } from 'commander';
import { ConfigError, GradestreamError, InputUnreadableError, PortUnavailableError, UsageError } from '../errors.js';
import { UnknownScheduleError } from '../sync/errors.js';
import { registerConsume } from './consume.js';
import { HELD_LIMIT, heldCommand } from './held.js';
import { inspectCommand, type InspectOptions } from './inspect.js';
import { mappingsImport, type MappingsImportOptions } from './mappings.js';
import { reconcileCommand, type ReconcileOptions } from './reconcile.js';
import { EXIT, processIo, writeJson, type CliIo } from './io.js';
import { QUARANTINE_LIMIT, quarantineList, quarantineRedrive, type QuarantineOptions } from './quarantine.js';
import { DEFAULT_BATCH_SIZE, replay, type ReplayOptions } from './replay.js';
import { resendCommand, type ResendOptions } from './resend.js';
import { runCommand, type RunOptions } from './run.js';
import { RUNS_LIMIT, runsList, runsShow } from './runs.js';
import { schedulesList, schedulesNext, schedulesSetStatus, schedulesTick } from './schedules.js';
import { shared, type SharedOptions } from './options.js';
import type { SyncCliOptions } from './sync-common.js';
import { syncCommand, type SyncOptions } from './sync.js';
import { validate } from './validate.js';
import { VERSION } from '../version.js';

type Action = (io: CliIo) => Promise<number>;

/**
 * Builds the command tree. Each action is recorded rather than run inside commander, so that parsing
 * errors (exit 2) and command results are handled in one place.
 */
function program(io: CliIo, run: (action: Action) => void): Command {
  const cli = new Command('gradestream')
    .description('Canvas grade Live Events → compacted state → SIS batch feed')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: () => undefined, // commander's errors are reported as one line below
    })
    .showSuggestionAfterError(false)
    .version(VERSION, '--version', 'print the version');

  shared(cli.command('run'))
    .description('the service: sources, webhook, scheduler, HTTP API and admin page, metrics (until SIGTERM)')
    .option('--port <port>', 'HTTP port (overrides GRADESTREAM_HTTP_PORT)')
    .action((opts: RunOptions) => run((io) => runCommand(opts, io)));

  shared(cli.command('validate'))
    .description('check Canvas-format JSON Lines; writes nothing (exit 1 if any line is quarantined)')
    .argument('<files...>', 'JSON Lines files; - for stdin')
    .action((files: string[], opts: SharedOptions) => run((io) => validate(files, opts, io)));

  shared(cli.command('replay'))
    .description('fold Canvas-format JSON Lines into the state store, through the same pipeline as the live sources')
    .argument('<files...>', 'JSON Lines files; - for stdin')
    .option('--batch-size <lines>', `lines folded per transaction (default ${DEFAULT_BATCH_SIZE})`)
    .action((files: string[], opts: ReplayOptions) => run((io) => replay(files, opts, io)));

  const quarantine = cli.command('quarantine').description('quarantined messages: list them, re-drive them after a fix');
  shared(quarantine.command('list'))
    .description('quarantined messages, oldest first')
    .option('--limit <n>', `at most this many (default ${QUARANTINE_LIMIT})`)
    .option('--after <id>', 'the page after this id')
    .action((opts: QuarantineOptions) => run((io) => quarantineList(opts, io)));
  shared(quarantine.command('redrive'))
    .description('run intake again on quarantined messages: fold those now valid, drop those now ignored')
    .option('--id <id...>', 'only these quarantine ids')
    .option('--reason <code>', 'only messages quarantined for this reason')
    .action((opts: QuarantineOptions) => run((io) => quarantineRedrive(opts, io)));

  shared(cli.command('inspect'))
    .description("show what the state store holds for a student")
    .option('--student <id>', 'canonical (global) student id (this or --student-sis)')
    .option('--student-sis <id>', "the student's SIS id, as the SIS knows them (this or --student)")
    .option('--course <id>', 'only this course (canonical id)')
    .action((opts: InspectOptions) => run((io) => inspectCommand(opts, io)));

  shared(
    cli
      .command('sync')
      .description('run a schedule now, whatever its status; prints the run (exit 1 if it failed)')
      .argument('<schedule>', 'schedule id')
      .option('--as <name>', 'who is asking, recorded in the history (required, except with --dry-run)')
      .option('--dry-run', 'compute and report the delta; deliver, write and record nothing'),
  ).action((id: string, opts: SyncOptions) => run((io) => syncCommand(id, opts, io)));

  const schedules = cli.command('schedules').description('sync schedules: list, pause, resume, next runs');
  shared(
    schedules
      .command('list')
      .description('every schedule with its hour of day, time zone, next run, status, owner and scope')
      .option('--now <iso>', 'compute next runs from this instant instead of now'),
  ).action((opts: SyncCliOptions & { now?: string }) => run((io) => schedulesList(opts, io)));
  for (const action of ['pause', 'resume'] as const) {
    shared(
      schedules
        .command(action)
        .description(action === 'pause' ? 'suspend automatic runs (kept in the state store)' : 'let the next occurrence run again')
        .argument('<schedule>', 'schedule id')
        .requiredOption('--as <name>', 'who is asking, recorded (required)'),
    ).action((id: string, opts: SyncCliOptions & { as: string }) => run((io) => schedulesSetStatus(action, id, opts, io)));
  }
  shared(
    schedules
      .command('next')
      .description('the next scheduled run instants of a schedule, in UTC')
      .argument('<schedule>', 'schedule id')
      .option('--after <iso>', 'runs strictly after this instant (default now)')
      .option('--count <n>', 'how many (default 1)'),
  ).action((id: string, opts: SyncCliOptions & { after?: string; count?: string }) => run((io) => schedulesNext(id, opts, io)));
  shared(
    schedules
      .command('tick', { hidden: true })
      .description("operational: run every schedule's latest due occurrence nobody has claimed (one scheduler pass)")
      .option('--now <iso>', 'as if it were this instant'),
  ).action((opts: SyncCliOptions & { now?: string }) => run((io) => schedulesTick(opts, io)));

  shared(
    cli
      .command('resend')
      .description("make the SIS targets forget a course's, an assignment's or every acknowledged row: the next run sends them again")
      .option('--course <id>', 'canonical course id')
      .option('--assignment <id>', 'canonical assignment id')
      .option('--all', 'everything')
      .requiredOption('--as <name>', 'who is asking, recorded (required)'),
  ).action((opts: ResendOptions) => run((io) => resendCommand(opts, io)));

  const runs = cli.command('runs').description('the sync history');
  shared(
    runs
      .command('list')
      .description('runs, newest first')
      .option('--schedule <id>', 'only this schedule')
      .option('--limit <n>', `at most this many (default ${RUNS_LIMIT})`),
  ).action((opts: SyncCliOptions & { schedule?: string; limit?: string }) => run((io) => runsList(opts, io)));
  shared(runs.command('show').description('one run').argument('<run>', 'run id')).action((id: string, opts: SyncCliOptions) =>
    run((io) => runsShow(id, opts, io)),
  );

  shared(
    cli
      .command('held')
      .description('rows with a pending change the SIS cannot be sent yet, with the reason')
      .option('--schedule <id>', "only this schedule's target and scope")
      .option('--reason <reason>', 'unposted, student_unmapped or course_unmapped')
      .option('--limit <n>', `at most this many (default ${HELD_LIMIT})`),
  ).action((opts: SyncCliOptions & { schedule?: string; reason?: string; limit?: string }) => run((io) => heldCommand(opts, io)));

  shared(
    cli
      .command('reconcile')
      .description("read courses from Canvas's REST API, fold them into the state store, report drift (token: GRADESTREAM_CANVAS_TOKEN)")
      .option('--canvas-url <url>', "Canvas's address, e.g. https://canvas.example.edu (overrides GRADESTREAM_CANVAS_URL)")
      .option('--course <id...>', 'Canvas course ids')
      .option('--account <id>', "every course of this Canvas account (and its sub-accounts)")
      .option('--term <id>', "with --account: only this enrollment term's courses")
      .option('--canvas-shard <n>', 'the Canvas shard (overrides GRADESTREAM_CANVAS_SHARD; default: the one the state store knows)')
      .option('--dry-run', 'read and compare; fold and record nothing')
      .option('--as <name>', 'who is asking (recorded in the history; default the user name)'),
  ).action((opts: ReconcileOptions) => run((io) => reconcileCommand(opts, io)));

  const mappings = cli.command('mappings').description('SIS ids from the SIS side');
  shared(
    mappings
      .command('import')
      .description("teach student or course SIS ids from a Canvas provisioning report CSV (users or courses), so held *_unmapped rows can go")
      .argument('<file>', 'the report (CSV); - for stdin')
      .option('--canvas-shard <n>', "the Canvas shard of the report's local ids (overrides GRADESTREAM_CANVAS_SHARD; default: the one the state store knows)")
      .option('--as-of <iso>', "the instant the report's ids are taught at (default: the file's modification time)")
      .option('--dry-run', 'read and count; write nothing'),
  ).action((file: string, opts: MappingsImportOptions) => run((io) => mappingsImport(file, opts, io)));

  registerConsume(cli, run);

  return cli;
}

/** Runs the command line `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  // Known before parsing, so that a command line commander refuses is answered in JSON too.
  const json = argv.includes('--json');
  let action: Action | undefined;
  const cli = program(io, (a) => (action = a));
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version
      if (err.code === 'commander.help') {
        io.stderr.write(cli.helpInformation()); // no command given
        return EXIT.usage;
      }
      return fail(io, json, 'USAGE', err.message.replace(/^error: /, ''), EXIT.usage);
    }
    throw err;
  }
  if (action === undefined) return EXIT.ok;
  try {
    return await action(io);
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
    const code = err instanceof GradestreamError ? err.code : 'INTERNAL';
    // An invalid configuration (flags, environment, schedules file) or a schedule id the schedules file
    // does not define is a command line that cannot be run.
    const usage =
      err instanceof UsageError ||
      err instanceof InputUnreadableError ||
      err instanceof ConfigError ||
      err instanceof UnknownScheduleError ||
      err instanceof PortUnavailableError;
    const problems = err instanceof ConfigError ? err.problems : [];
    return fail(io, json, code, message, usage ? EXIT.usage : EXIT.failed, problems);
  }
}

/**
 * A failed command: its one-line reason on stderr, and under `--json` also `{"error": {"code",
 * "message"}}` on stdout (SPEC §7.1), so a script reading stdout gets one JSON document either way;
 * an invalid configuration adds `problems`, each on its own line on stderr.
 */
function fail(io: CliIo, json: boolean, code: string, message: string, exit: number, problems: readonly string[] = []): number {
  // Several configuration problems: a first line that says so, then one problem per line.
  if (problems.length > 1) io.stderr.write(`gradestream: invalid configuration (${problems.length} problems):\n${problems.map((p) => `  - ${p}\n`).join('')}`);
  else io.stderr.write(`gradestream: ${message}\n`);
  if (json) writeJson(io, { error: problems.length > 0 ? { code, message, problems } : { code, message } });
  return exit;
}
