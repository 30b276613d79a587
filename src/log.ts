import { pino, type Logger } from 'pino';

/**
 * Structured logs on stderr (stdout belongs to command output). Grades are student records: scores and
 * raw payloads are logged at debug level only, and secrets never; `redact` is the safety net, with the
 * request headers that carry credentials (Authorization, Cookie, X-Gradestream-Secret). A request is
 * logged as its method and path: never its query string, which may carry the webhook secret.
 */
/**
 * `pino` (the default): `time` in epoch milliseconds and `level` a number (10 trace … 60 fatal), what
 * pino's own tools read. `iso`: `time` an ISO 8601 UTC instant and `level` its name, what log shippers
 * index without a parsing rule. Either way every line is one JSON object.
 */
export type LogFormat = 'pino' | 'iso';

export function createLogger(
  level = process.env['LOG_LEVEL'] ?? 'info',
  destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true }),
  format: LogFormat = process.env['GRADESTREAM_LOG_FORMAT'] === 'iso' ? 'iso' : 'pino',
): Logger {
  return pino(
    {
      level,
      base: { service: 'gradestream' },
      ...(format === 'iso' ? { timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } } : {}),
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
