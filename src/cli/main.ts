import { Command, CommanderError } from 'commander';
import { ConfigError, GradestreamError, InputUnreadableError, UsageError } from '../errors.js';
import { inspectCommand, type InspectOptions } from './inspect.js';
import { EXIT, processIo, type CliIo } from './io.js';
import { replay, type ReplayOptions } from './replay.js';
import { validate } from './validate.js';

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
    .showSuggestionAfterError(false);

  cli
    .command('validate')
    .description('check Canvas-format JSON Lines; writes nothing (exit 1 if any line is quarantined)')
    .argument('<files...>', 'JSON Lines files; - for stdin')
    .option('--json', 'one JSON document on stdout')
    .action((files: string[], opts: { json?: boolean }) => run((io) => validate(files, opts, io)));

  cli
    .command('replay')
    .description('fold Canvas-format JSON Lines into the state store, through the same pipeline as the live sources')
    .argument('<files...>', 'JSON Lines files; - for stdin')
    .option('--json', 'one JSON document on stdout')
    .option('--state <url>', 'state store: sqlite:PATH or postgres://… (overrides GRADESTREAM_STATE_URL)')
    .option('--batch-size <lines>', 'lines folded per transaction (default 2000)')
    .action((files: string[], opts: ReplayOptions) => run((io) => replay(files, opts, io)));

  cli
    .command('inspect')
    .description("show what the state store holds for a student")
    .requiredOption('--student <id>', 'canonical (global) student id')
    .option('--course <id>', 'only this course (canonical id)')
    .option('--json', 'one JSON document on stdout')
    .option('--state <url>', 'state store: sqlite:PATH or postgres://… (overrides GRADESTREAM_STATE_URL)')
    .action((opts: InspectOptions) => run((io) => inspectCommand(opts, io)));

  return cli;
}

/** Runs the command line `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
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
      io.stderr.write(`gradestream: ${err.message.replace(/^error: /, '')}\n`);
      return EXIT.usage;
    }
    throw err;
  }
  if (action === undefined) return EXIT.ok;
  try {
    return await action(io);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`gradestream: ${message.split('\n')[0]}\n`);
    // An invalid configuration (flags or environment) is a command line that cannot be run.
    if (err instanceof UsageError || err instanceof InputUnreadableError || err instanceof ConfigError) return EXIT.usage;
    if (err instanceof GradestreamError) return EXIT.failed;
    return EXIT.failed;
  }
}
