import { once } from 'node:events';
import { IANAZone } from 'luxon';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { readConfigFiles, startService } from '../service/app.js';
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
  let config;
  try {
    config = commandConfig(opts, io, { httpPort: opts.port });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The files named are read too, so that every problem is listed at once.
    const timeZone = io.env['GRADESTREAM_TIME_ZONE'];
    const files = await readConfigFiles({
      schedulesFile: opts.schedules || io.env['GRADESTREAM_SCHEDULES_FILE'] || undefined,
      adminTokensFile: io.env['GRADESTREAM_ADMIN_TOKENS_FILE'] || undefined,
      timeZone: timeZone !== undefined && IANAZone.isValidZone(timeZone) ? timeZone : 'UTC',
    }).then(
      () => [],
      (e: unknown) => (e instanceof ConfigError ? e.problems : []),
    );
    throw new ConfigError([...err.problems, ...files]);
  }
  const log = createLogger(config.logLevel);
  const service = await startService(config, log);
  io.stderr.write(`gradestream: listening on port ${service.port} (state ${service.store.url})\n`);
  const [signal] = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  log.info({ signal }, 'stopping');
  await service.stop();
  return EXIT.ok;
}
