import cookie from '@fastify/cookie';
import { Gauge, Registry } from 'prom-client';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { initIntakeMetrics, intakeMetrics } from '../metrics.js';
import { reconcilerFromConfig, reconcileProblems } from '../reconcile/schedule.js';
import { liveSources, type LiveSource } from '../sources/live.js';
import { WebhookSource } from '../sources/webhook.js';
import { webhookAuthenticator, webhookAuthSettings } from '../sources/webhook-auth.js';
import { openStore, type StateStore } from '../state/store.js';
import { syncMetrics } from '../sync/metrics.js';
import { Scheduler } from '../sync/scheduler.js';
import { loadSchedules, type Schedule } from '../sync/schedules.js';
import { API_ROUTES, apiRoutes, type AdminBackend } from './api.js';
import { adminBackend } from './backend.js';
import { eventsRoutes } from './events.js';
import { healthRoutes, readiness } from './health.js';
import { httpMetrics, processMetrics } from './metrics.js';
import { pageRoutes } from './page.js';
import { createHttpServer, listen, methodNotAllowed, type App } from './server.js';
import { Sessions } from './sessions.js';
import { signInRoutes } from './signin.js';
import { Tokens } from './tokens.js';

/**
 * `gradestream run`: the HTTP API, admin page, webhook and metrics; the SQS and Kafka sources the
 * configuration names; the sync scheduler. Started in that order (the health endpoint answers while
 * the rest starts) and stopped in reverse: stop receiving, finish what is in hand, close the store.
 */
export interface Service {
  port: number;
  registry: Registry;
  store: StateStore;
  stop(): Promise<void>;
}

/** state_records{kind} costs a count over each table: sampled at most once a minute. */
function stateRecordsGauge(registry: Registry, store: StateStore, log: Logger): void {
  let last = 0;
  let counts: Record<string, number> = {};
  new Gauge({
    name: 'gradestream_state_records',
    help: 'Rows in the state store, by kind (sampled at most once a minute)',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      if (Date.now() - last > 60_000) {
        last = Date.now();
        try {
          counts = await store.counts();
        } catch (err) {
          log.warn({ err }, 'could not count state records');
        }
      }
      for (const [kind, n] of Object.entries(counts)) this.set({ kind }, n);
    },
  });
}

export async function startService(config: Config, log: Logger): Promise<Service> {
  const registry = new Registry();
  const intake = intakeMetrics(registry);

  // Everything that can be wrong in the configuration is found before anything starts, and listed at
  // once: the settings (loadConfig), then both files.
  const authSettings = webhookAuthSettings(config);
  const { schedules, tokens } = await readConfigFiles(config);
  const canvasProblems = reconcileProblems(schedules, config);
  if (canvasProblems.length > 0) throw new ConfigError(canvasProblems);

  const store = await openStore(config.stateUrl);
  let ready = false;
  processMetrics(registry, async () => (await readiness({ store, log, ready: () => ready })) === 'ready');
  stateRecordsGauge(registry, store, log);
  new Gauge({ name: 'gradestream_webhook_unauthenticated', help: '1 when POST /events accepts unauthenticated events', registers: [registry] }).set(
    authSettings.mode === 'none' ? 1 : 0,
  );
  if (authSettings.mode === 'none') {
    log.warn('webhook authentication is off (GRADESTREAM_WEBHOOK_AUTH=none): POST /events accepts anyone; for local use only');
  }
  if (tokens.size === 0) log.warn('no admin tokens (GRADESTREAM_ADMIN_TOKENS_FILE): /api/* and the admin page refuse everyone');
  if (schedules.length === 0) log.warn('no sync schedules (GRADESTREAM_SCHEDULES_FILE): nothing will be sent to the SIS');

  const maxFutureMs = config.maxFutureSeconds * 1000;
  const webhook = new WebhookSource({ store, auth: webhookAuthenticator(authSettings), log, metrics: intake, maxFutureMs });
  const reconciler = reconcilerFromConfig(config, { store, log, registry });
  const scheduler = new Scheduler({ state: store, schedules, sinkUrl: config.sinkUrl, metrics: syncMetrics(registry), logger: log, reconciler });

  const app = await httpApp(config, log, { store, registry, webhook, tokens, backend: adminBackend(scheduler, store), ready: () => ready }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const server = app.server;
  const port = await listen(app, config.httpPort).catch(async (err: unknown) => {
    await app.close();
    await store.close();
    throw err;
  });
  log.info({ port, state: store.url, schedules: schedules.length, webhook: authSettings.mode }, 'listening');

  const sources: LiveSource[] = liveSources(config, { store, log, registry, metrics: intake });
  initIntakeMetrics(intake, ['webhook', ...sources.map((s) => s.name)]);
  const started: LiveSource[] = [];
  try {
    for (const source of sources) {
      await source.start();
      started.push(source);
      log.info({ source: source.name }, 'source started');
    }
    await scheduler.start();
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    server.closeAllConnections();
    await app.close();
    await store.close();
    throw err;
  }
  ready = true;
  // A token removed from the file (a Secret updated in place) stops working without a restart.
  const unwatch = config.adminTokensFile === undefined ? () => undefined : tokens.watch(config.adminTokensFile, log);

  return {
    port,
    registry,
    store,
    async stop() {
      ready = false;
      unwatch();
      // No new connections; requests on open ones are answered 503 (Fastify's closing state).
      const closed = app.close();
      server.closeIdleConnections();
      await webhook.close();
      await Promise.allSettled(started.map((s) => s.stop()));
      await scheduler.stop();
      server.closeAllConnections();
      await closed;
      await store.close();
      log.info('stopped');
    },
  };
}

/** The HTTP API, admin page, webhook and health routes on one Fastify instance (src/service/server.ts), not yet listening. */
async function httpApp(
  config: Config,
  log: Logger,
  deps: { store: StateStore; registry: Registry; webhook: WebhookSource; tokens: Tokens; backend: AdminBackend; ready: () => boolean },
): Promise<App> {
  const { store, registry, webhook, tokens, backend, ready } = deps;
  const sessions = await Sessions.open(store, { secret: config.sessionSecret });
  const auth = { tokens, sessions, publicUrl: config.publicUrl };
  const app = createHttpServer({ log, trustedProxies: config.trustedProxies });
  httpMetrics(app, registry);
  await app.register(cookie);
  await app.register(healthRoutes({ store, registry, log, ready }));
  await app.register(eventsRoutes(webhook, log));
  await app.register(apiRoutes({ ...auth, backend }));
  await app.register(pageRoutes({ ...auth, backend }));
  await app.register(signInRoutes({ ...auth, log }));
  methodNotAllowed(
    app,
    { '/healthz': ['GET'], '/readyz': ['GET'], '/metrics': ['GET'], '/events': ['POST'], '/': ['GET'], '/login': ['POST'], '/logout': ['POST'], ...API_ROUTES },
    log,
  );
  return app;
}

/**
 * The files the configuration names: the schedules and the admin tokens, both read; one ConfigError
 * lists the problems of both. `run` also reads them when the settings themselves are invalid, so that
 * every problem is listed at once.
 */
export async function readConfigFiles(
  c: Pick<Partial<Config>, 'schedulesFile' | 'adminTokensFile' | 'timeZone'>,
): Promise<{ schedules: Schedule[]; tokens: Tokens }> {
  const [schedules, tokens] = await allOrProblems([
    c.schedulesFile ? loadSchedules(c.schedulesFile, { defaultTimeZone: c.timeZone ?? 'UTC' }) : Promise.resolve([]),
    c.adminTokensFile ? Tokens.load(c.adminTokensFile) : Promise.resolve(Tokens.empty()),
  ] as const);
  return { schedules: [...schedules], tokens };
}

/** Every value, or one ConfigError with the problems of all that failed (other errors as they are). */
async function allOrProblems<T extends readonly unknown[]>(work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(work);
  const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const other = failures.find((e) => !(e instanceof ConfigError));
  if (other !== undefined) throw other;
  if (failures.length > 0) throw new ConfigError(failures.flatMap((e) => (e as ConfigError).problems));
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
