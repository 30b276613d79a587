import { once } from 'node:events';
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { startService } from '../service/app.js';
import { EXIT, type CliIo } from './io.js';

export interface RunOptions {
  state?: string;
  schedules?: string;
  sink?: string;
  port?: string;
}

/**
 * `gradestream run`: the service, until SIGTERM or SIGINT; then a graceful stop (in-flight batches
 * finished and acknowledged, runs in progress completed) and exit 0.
 */
export async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  const config = loadConfig(io.env, { stateUrl: opts.state, schedulesFile: opts.schedules, sinkUrl: opts.sink, httpPort: opts.port });
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  io.stderr.write(`gradestream: listening on port ${service.port} (state ${service.store.url})\n`);
  const [signal] = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  log.info({ signal }, 'stopping');
  await service.stop();
  return EXIT.ok;
}
