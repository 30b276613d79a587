import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { StateStore } from '../state/store.js';

export interface ReadinessDeps {
  store: StateStore;
  log: Logger;
  ready: () => boolean;
}

/** Ready: started, and the store answers (a cheap round trip). What /readyz and gradestream_ready report. */
export async function readiness(deps: ReadinessDeps): Promise<'ready' | 'starting' | 'state store unavailable'> {
  if (!deps.ready()) return 'starting';
  try {
    await deps.store.changeWatermark();
    return 'ready';
  } catch (err) {
    deps.log.warn({ err }, 'readiness: state store unavailable');
    return 'state store unavailable';
  }
}

/** `GET /healthz` (the process runs), `GET /readyz` (started and the store answers), `GET /metrics`. */
export const healthRoutes =
  (deps: ReadinessDeps & { registry: Registry }): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const status = await readiness(deps);
      return status === 'ready' ? { status } : reply.code(503).send({ status });
    });
    app.get('/metrics', async (_request, reply) => reply.type(deps.registry.contentType).send(await deps.registry.metrics()));
  };
