import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { callerOf, checkSessionWrite, CSRF_FIELD, requireRole, type AuthDeps, type Caller } from './auth.js';
import { fieldsOf, formOrJsonBodies, isForm } from './body.js';
import { HttpError } from './http-error.js';
import { API_BODY_LIMIT } from './limits.js';
import type { Role } from './tokens.js';

/**
 * The admin API (SPEC §7.3). Every `/api/*` route needs `Authorization: Bearer TOKEN` or the admin
 * page's session cookie, checked before the body is read; reads need viewer, mutations admin, and
 * mutations record the caller's name (and, with the cookie, need the page's Origin and CSRF token:
 * src/service/auth.ts). A form post from the admin page is answered with a redirect back to the page.
 */

/** What the API reads and changes; the service wires it to the sync engine and the state store. */
export interface AdminBackend {
  listSchedules(): Promise<unknown[]>;
  runSchedule(id: string, by: string): Promise<unknown>;
  /** Starts a run and answers once it is in the history (the admin page's form: no waiting on a long run). */
  startRun(id: string, by: string): Promise<unknown>;
  pauseSchedule(id: string, by: string): Promise<unknown>;
  resumeSchedule(id: string, by: string): Promise<unknown>;
  resend(selector: { course?: string; assignment?: string; all?: boolean }, by: string): Promise<unknown>;
  listRuns(limit: number): Promise<unknown[]>;
  getRun(id: string): Promise<unknown | undefined>;
  listHeld(limit: number): Promise<unknown[]>;
  listQuarantine(limit: number, after?: string): Promise<unknown[]>;
}

/** The API's route paths with their methods (the others are answered 405). */
export const API_ROUTES = {
  '/api/schedules': ['GET'],
  '/api/schedules/:id/run': ['POST'],
  '/api/schedules/:id/pause': ['POST'],
  '/api/schedules/:id/resume': ['POST'],
  '/api/resend': ['POST'],
  '/api/runs': ['GET'],
  '/api/runs/:id': ['GET'],
  '/api/held': ['GET'],
  '/api/quarantine': ['GET'],
} as const;

const one = z.string().optional();
const Query = z.object({ limit: one, after: one });
const MAX_ID = 9223372036854775807n;

/** The query's limit and after, checked: each given at most once, limit 1..10000, after a decimal id. */
function queryOf(request: FastifyRequest, fallbackLimit: number): { limit: number; after?: string } {
  const parsed = Query.safeParse(request.query ?? {});
  if (!parsed.success) throw new HttpError(400, 'limit and after may each be given once');
  const { limit: l, after } = parsed.data;
  const limit = l === undefined ? fallbackLimit : /^[0-9]{1,5}$/.test(l) ? Number(l) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, 'limit must be an integer from 1 to 10000');
  if (after !== undefined && !(/^(0|[1-9][0-9]{0,18})$/.test(after) && BigInt(after) <= MAX_ID)) {
    throw new HttpError(400, 'after must be a quarantine entry id (a decimal integer)');
  }
  return { limit, after };
}

const idOf = (request: FastifyRequest): string => (request.params as { id: string }).id;

export const apiRoutes =
  (deps: AuthDeps & { backend: AdminBackend }): FastifyPluginAsync =>
  async (app) => {
    const { backend } = deps;
    formOrJsonBodies(app, API_BODY_LIMIT);
    const callers = new WeakMap<FastifyRequest, Caller>();
    const needs = (role: Role) => async (request: FastifyRequest) => {
      callers.set(request, requireRole(await callerOf(request, deps), role));
    };
    const read = (handler: (request: FastifyRequest) => Promise<unknown>) => ({
      onRequest: needs('viewer'),
      handler,
    });
    const mutate = (handler: (request: FastifyRequest, by: string, fields: Map<string, string>) => Promise<unknown>) => ({
      onRequest: needs('admin'),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const caller = callers.get(request)!;
        const fields = fieldsOf(request.body);
        checkSessionWrite(request, caller, deps, fields.get(CSRF_FIELD));
        const result = await handler(request, caller.who.name, fields);
        if (isForm(request)) return reply.code(303).header('location', '/').send();
        return reply.send(result);
      },
    });

    app.get('/api/schedules', read(() => backend.listSchedules()));
    // The admin page's form gets its redirect once the run is in the history, not when it ends (a long
    // run would outlast a proxy's timeout); an API client gets the finished run's entry.
    app.post('/api/schedules/:id/run', mutate((request, by) => (isForm(request) ? backend.startRun(idOf(request), by) : backend.runSchedule(idOf(request), by))));
    app.post('/api/schedules/:id/pause', mutate((request, by) => backend.pauseSchedule(idOf(request), by)));
    app.post('/api/schedules/:id/resume', mutate((request, by) => backend.resumeSchedule(idOf(request), by)));
    app.post('/api/resend', mutate(async (_request, by, p) => {
      const course = p.get('course');
      const assignment = p.get('assignment');
      const all = p.get('all') === 'true';
      if ([course, assignment, all || undefined].filter((v) => v !== undefined).length !== 1) {
        throw new HttpError(400, 'give exactly one of course, assignment or all=true');
      }
      return backend.resend({ course, assignment, all }, by);
    }));
    app.get('/api/runs', read((request) => backend.listRuns(queryOf(request, 100).limit)));
    app.get('/api/runs/:id', read(async (request) => {
      const run = await backend.getRun(idOf(request));
      if (run === undefined) throw new HttpError(404, `no run ${idOf(request).slice(0, 100)}`);
      return run;
    }));
    app.get('/api/held', read((request) => backend.listHeld(queryOf(request, 1000).limit)));
    app.get('/api/quarantine', read((request) => {
      const { limit, after } = queryOf(request, 100);
      return backend.listQuarantine(limit, after);
    }));
  };
