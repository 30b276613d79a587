import type { Principal, Role, Tokens } from './tokens.js';
import { HttpError, type Reply, type Request, type Router } from './http.js';

/**
 * The admin API (SPEC §7.3). Every `/api/*` route needs `Authorization: Bearer TOKEN` or the admin
 * page's session cookie; reads need viewer, mutations admin, and mutations record the caller's name.
 * A form post from the admin page is answered with a redirect back to the page.
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

export const SESSION_COOKIE = 'gradestream_session';

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export function principalOf(req: Request, tokens: Tokens): Principal | undefined {
  const auth = req.headers.authorization;
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const bearer = auth === undefined ? null : /^bearer +(.*)$/i.exec(auth);
  if (bearer) return tokens.verify(bearer[1]!.trim());
  const session = cookie(req, SESSION_COOKIE);
  return session === undefined ? undefined : tokens.verifySession(session);
}

function require(req: Request, tokens: Tokens, role: Role): Principal {
  const who = principalOf(req, tokens);
  if (who === undefined) throw new HttpError(401, 'a valid bearer token or session is required', { 'www-authenticate': 'Bearer' });
  if (role === 'admin' && who.role !== 'admin') throw new HttpError(403, 'this action needs the admin role');
  return who;
}

const isForm = (req: Request) => (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');

async function params(req: Request): Promise<URLSearchParams> {
  const text = await req.text(64 * 1024);
  if (isForm(req)) return new URLSearchParams(text);
  if (text.trim() === '') return new URLSearchParams();
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const pairs: [string, string][] = Object.entries(body).map(([k, v]) => [k, String(v)]);
    return new URLSearchParams(pairs);
  } catch {
    throw new HttpError(400, 'the body must be JSON or a form');
  }
}

function limitOf(req: Request, fallback = 100): number {
  const n = Number(req.query.get('limit') ?? fallback);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new HttpError(400, 'limit must be an integer from 1 to 10000');
  return n;
}

export function registerApi(router: Router, tokens: Tokens, backend: AdminBackend): void {
  const read = (handler: (req: Request) => Promise<unknown>) => async (req: Request): Promise<Reply> => {
    require(req, tokens, 'viewer');
    return { status: 200, body: (await handler(req)) as object };
  };
  const mutate = (handler: (req: Request, who: Principal, p: URLSearchParams) => Promise<unknown>) => async (req: Request): Promise<Reply> => {
    const who = require(req, tokens, 'admin');
    const result = await handler(req, who, await params(req));
    if (isForm(req)) return { status: 303, headers: { location: '/' } };
    return { status: 200, body: result as object };
  };

  router
    .on('GET', '/api/schedules', read(() => backend.listSchedules()))
    // The admin page's form gets its redirect once the run is in the history, not when it ends (a long
    // run would outlast a proxy's timeout); an API client gets the finished run's entry.
    .on('POST', '/api/schedules/{id}/run', mutate((req, who) =>
      isForm(req) ? backend.startRun(req.params['id']!, who.name) : backend.runSchedule(req.params['id']!, who.name),
    ))
    .on('POST', '/api/schedules/{id}/pause', mutate((req, who) => backend.pauseSchedule(req.params['id']!, who.name)))
    .on('POST', '/api/schedules/{id}/resume', mutate((req, who) => backend.resumeSchedule(req.params['id']!, who.name)))
    .on('POST', '/api/resend', mutate(async (_req, who, p) => {
      const course = p.get('course') ?? undefined;
      const assignment = p.get('assignment') ?? undefined;
      const all = p.get('all') === 'true';
      if ([course, assignment, all || undefined].filter((v) => v !== undefined).length !== 1) {
        throw new HttpError(400, 'give exactly one of course, assignment or all=true');
      }
      return backend.resend({ course, assignment, all }, who.name);
    }))
    .on('GET', '/api/runs', read((req) => backend.listRuns(limitOf(req))))
    .on('GET', '/api/runs/{id}', read(async (req) => {
      const run = await backend.getRun(req.params['id']!);
      if (run === undefined) throw new HttpError(404, `no run ${req.params['id']}`);
      return run;
    }))
    .on('GET', '/api/held', read((req) => backend.listHeld(limitOf(req, 1000))))
    .on('GET', '/api/quarantine', read((req) => backend.listQuarantine(limitOf(req), req.query.get('after') ?? undefined)));
}
