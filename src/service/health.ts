import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';

/** `GET /healthz` (the process runs), `GET /readyz` (started and the store answers), `GET /metrics`. */
export const healthRoutes =
  (deps: { store: StateStore; registry: Registry; log: Logger; ready: () => boolean }): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      if (!deps.ready()) return reply.code(503).send({ status: 'starting' });
      try {
        await deps.store.changeWatermark(); // a cheap round trip: the store answers
        return { status: 'ready' };
      } catch (err) {
        deps.log.warn({ err }, 'readiness: state store unavailable');
        return reply.code(503).send({ status: 'state store unavailable' });
      }
    });
    app.get('/metrics', async (_request, reply) => reply.type(deps.registry.contentType).send(await deps.registry.metrics()));
  };
