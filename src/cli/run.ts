import { once } from 'node:events';
import { readSettings } from '../config.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../log.js';
import { readConfigFiles, startService } from '../service/app.js';
import { VERSION } from '../version.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandFlags, type SharedOptions } from './options.js';

export interface RunOptions extends SharedOptions {
  port?: string;
}

/**
 * `gradestream run`: the service, until SIGTERM or SIGINT; then a graceful stop (in-flight batches
 * finished and acknowledged, runs in progress completed) and exit 0.
 */
export async function runCommand(opts: RunOptions, io: CliIo): Promise<number> {
  const settings = readSettings(io.env, commandFlags(opts, { httpPort: opts.port }));
  if (!settings.ok) {
    // The files the valid settings name are read too, so that every problem is listed at once.
    const files = await readConfigFiles(settings.valid).then(
      () => [],
      (e: unknown) => (e instanceof ConfigError ? e.problems : []),
    );
    throw new ConfigError([...settings.problems, ...files]);
  }
  const config = settings.config;
  const log = createLogger(config.logLevel, undefined, config.logFormat);
  const service = await startService(config, log);
  // Every line from here on is JSON (log shippers parse each line); the port is in `listening` and here.
  log.info({ port: service.port }, 'ready');
  // --json: one document, once the service is up, for a supervisor that needs the port (--port 0).
  if (opts.json) writeJson(io, { status: 'ready', port: service.port, version: VERSION });
  const [signal] = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  log.info({ signal }, 'stopping');
  await service.stop();
  return EXIT.ok;
}
