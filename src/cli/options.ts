import type { Command } from 'commander';
import { loadConfig, type Config, type ConfigFlags } from '../config.js';
import type { CliIo } from './io.js';

/** The options every command takes (SPEC §7.1: `--json` and the shared `--state`, `--schedules`, `--sink`). */
export interface SharedOptions {
  json?: boolean;
  state?: string;
  schedules?: string;
  sink?: string;
}

const STATE_HELP = 'state store: sqlite:PATH or postgres://… (overrides GRADESTREAM_STATE_URL)';
const SCHEDULES_HELP = 'schedules file, YAML or JSON (overrides GRADESTREAM_SCHEDULES_FILE)';
const SINK_HELP = 'default sink of schedules that name none: file:DIR, s3://bucket/prefix or https://… (overrides GRADESTREAM_SINK_URL)';

/**
 * Adds the shared options to a command. Every command accepts all three, so that one set of options
 * serves every command line; each is checked with the rest of the configuration, used or not.
 */
export function shared(command: Command): Command {
  return command
    .option('--json', 'one JSON document on stdout')
    .option('--state <url>', STATE_HELP)
    .option('--schedules <file>', SCHEDULES_HELP)
    .option('--sink <url>', SINK_HELP);
}

/** The configuration flags of one command: the shared options, and `extra` (e.g. run's --port). */
export function commandFlags(opts: SharedOptions, extra: ConfigFlags = {}): ConfigFlags {
  return { stateUrl: opts.state, schedulesFile: opts.schedules, sinkUrl: opts.sink, ...extra };
}

/** The configuration of one command: the environment, with its flags winning. */
export function commandConfig(opts: SharedOptions, io: CliIo, extra: ConfigFlags = {}): Config {
  return loadConfig(io.env, commandFlags(opts, extra));
}
