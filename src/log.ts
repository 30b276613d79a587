import { pino, type Logger } from 'pino';

/**
 * Structured logs on stderr (stdout belongs to command output). Grades are student records: scores and
 * raw payloads are logged at debug level only, and secrets never; `redact` is the safety net, with the
 * request headers that carry credentials (Authorization, Cookie, X-Gradestream-Secret). A request is
 * logged as its method and path: never its query string, which may carry the webhook secret.
 */
export function createLogger(
  level = process.env['LOG_LEVEL'] ?? 'info',
  destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { service: 'gradestream' },
      redact: {
        paths: [
          'token',
          'secret',
          'password',
          'authorization',
          'cookie',
          '*.token',
          '*.secret',
          '*.password',
          '*.authorization',
          '*.cookie',
          '*.headers.authorization',
          '*.headers.cookie',
          '*.headers["x-gradestream-secret"]',
          'headers["x-gradestream-secret"]',
        ],
        censor: '[redacted]',
      },
      serializers: { req: requestForLog },
    },
    destination,
  );
}

/** A request as logged (Fastify's serializer would log its URL whole, query string and all). */
function requestForLog(req: { method?: unknown; url?: unknown; ip?: unknown }): Record<string, unknown> {
  return { method: req.method, path: typeof req.url === 'string' ? req.url.split('?')[0] : undefined, ip: req.ip };
}

export type { Logger };
