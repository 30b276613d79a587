import { pino, type Logger } from 'pino';

/**
 * Structured logs on stderr (stdout belongs to command output). Grades are student records: scores and
 * raw payloads are logged at debug level only, and secrets never; `redact` is the safety net.
 */
export function createLogger(level = process.env['LOG_LEVEL'] ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'gradestream' },
      redact: {
        paths: ['token', 'secret', 'password', 'authorization', '*.token', '*.secret', '*.password', '*.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
