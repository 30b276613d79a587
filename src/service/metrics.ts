import { collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import { VERSION } from '../version.js';
import type { App } from './server.js';

/**
 * The service's own metrics: the process (prom-client's defaults), what is running
 * (gradestream_build_info), whether it is ready, and the HTTP requests it answered. Labels are bounded
 * sets: a route template (never the path a client sent), a method from a fixed list, a status code.
 */

/** prom-client's defaults that are gauges named `_total`, which `promtool check metrics` rejects; the same counts exist without the suffix. */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function processMetrics(registry: Registry, ready: () => Promise<boolean>): void {
  collectDefaultMetrics({ register: registry, prefix: 'gradestream_' });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(`gradestream_${name}`);
  new Gauge({
    name: 'gradestream_build_info',
    help: 'Always 1; the labels say which gradestream and Node.js are running',
    labelNames: ['version', 'node'],
    registers: [registry],
  }).set({ version: VERSION, node: process.version }, 1);
  new Gauge({
    name: 'gradestream_ready',
    help: '1 while /readyz answers 200 (started, and the state store answers at the last probe), else 0',
    registers: [registry],
    async collect() {
      this.set((await ready()) ? 1 : 0);
    },
  });
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** Every answered request, by method, route template (`none`: no route matched) and status. */
export function httpMetrics(app: App, registry: Registry): void {
  const requests = new Histogram({
    name: 'gradestream_http_request_duration_seconds',
    help: 'HTTP requests answered, by method, route template (none: no route) and status code; _count is the request count',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const method = METHODS.has(request.method) ? request.method : 'other';
    const route = request.is404 ? 'none' : (request.routeOptions.url ?? 'none');
    requests.observe({ method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
