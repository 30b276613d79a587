import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from '../log.js';
import type { WebhookSource } from '../sources/webhook.js';
import { answerError } from './server.js';

/**
 * `POST /events`, the webhook (src/sources/webhook.ts). The body is read as bytes, whatever its content
 * type, never parsed by Fastify, up to the source's limit (413 beyond, before reading when the
 * Content-Length says so). In `secret` mode the secret is checked before the body is read: a refused
 * request gets its 401 and the connection is closed, its body unread.
 */
export const eventsRoutes =
  (webhook: WebhookSource, log: Logger): FastifyPluginAsync =>
  async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhook.bodyLimit }, (_request, body, done) => done(null, body));

    app.post(
      '/events',
      {
        bodyLimit: webhook.bodyLimit,
        onRequest: async (request, reply) => {
          const refused = webhook.refuseEarly({ headers: request.headers, query: queryOf(request.raw.url) });
          return refused === undefined ? undefined : answerError(refused, request, reply, log);
        },
      },
      async (request, reply) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const answer = await webhook.handle({ body, headers: request.headers, query: queryOf(request.raw.url) });
        return reply.code(answer.status).send(answer.body);
      },
    );
  };

/** The query string as URLSearchParams (which never throws, whatever the percent-encoding). */
export function queryOf(url: string | undefined): URLSearchParams {
  const at = (url ?? '').indexOf('?');
  return new URLSearchParams(at < 0 ? '' : url!.slice(at + 1));
}
