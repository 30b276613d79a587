import { once } from 'node:events';
import { createLogger } from '../log.js';
import { startService } from '../service/app.js';
import { EXIT, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

export interface RunOptions extends SharedOptions {
  port?: string;
}

/**
 * `gradestream run`: the service, until SIGTERM or SIGINT; then a graceful stop (in-flight batches
 * finished and acknowledged, runs in progress completed) and exit 0.
 */
export async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  const config = commandConfig(opts, io, { httpPort: opts.port });
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  io.stderr.write(`gradestream: listening on port ${service.port} (state ${service.store.url})\n`);
  const [signal] = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  log.info({ signal }, 'stopping');
  await service.stop();
  return EXIT.ok;
}
