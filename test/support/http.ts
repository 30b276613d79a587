import cookie from '@fastify/cookie';
import type { FastifyPluginAsync } from 'fastify';
import { createLogger } from '../../src/log.js';
import { createHttpServer, listen, type App } from '../../src/service/server.js';

/** The service's Fastify instance (limits, error answers) with `plugins`, on a loopback port. */
export async function serveApp(...plugins: FastifyPluginAsync[]): Promise<{ app: App; base: string; close(): Promise<void> }> {
  const app = createHttpServer({ log: createLogger('silent') });
  await app.register(cookie);
  for (const plugin of plugins) await app.register(plugin);
  const port = await listen(app, 0, '127.0.0.1');
  return {
    app,
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
