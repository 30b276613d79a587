import type { TLSSocket } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { HttpError } from './http-error.js';
import type { Session, Sessions } from './sessions.js';
import type { Principal, Role, Tokens } from './tokens.js';

/**
 * Who is calling (SPEC §7.3): `Authorization: Bearer TOKEN`, or the admin page's session cookie. A
 * state-changing request authenticated by the cookie must also come from the page itself: its Origin
 * (or Referer when there is no Origin) names this service, and it carries the session's CSRF token.
 * Bearer clients need neither (a browser never adds that header by itself).
 */
export const SESSION_COOKIE = 'gradestream_session';
/** The form field (or X-CSRF-Token header) that carries the CSRF token. */
export const CSRF_FIELD = '_csrf';

export interface AuthDeps {
  tokens: Tokens;
  sessions: Sessions;
  /** GRADESTREAM_PUBLIC_URL: the address users reach the service at, when it is not the Host they send. */
  publicUrl?: string;
}

export interface Caller {
  who: Principal;
  /** Set when the caller came with the session cookie rather than a bearer token. */
  session?: Session;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** The caller of a request, or undefined. A bearer token that fails is not rescued by a cookie. */
export async function callerOf(request: FastifyRequest, deps: AuthDeps): Promise<Caller | undefined> {
  const auth = request.headers.authorization;
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  const bearer = auth === undefined ? null : /^bearer +(.*)$/i.exec(auth);
  if (bearer) {
    const who = deps.tokens.verify(bearer[1]!.trim());
    return who && { who };
  }
  const cookie = request.cookies[SESSION_COOKIE];
  if (cookie === undefined || cookie === '') return undefined;
  const session = await deps.sessions.resolve(cookie, deps.tokens);
  return session && { who: { name: session.who.name, role: session.who.role }, session };
}

/** The caller if it has `role` (admin ⊃ viewer); else throws 401 (nobody) or 403. */
export function requireRole(caller: Caller | undefined, role: Role): Caller {
  if (caller === undefined) throw new HttpError(401, 'a valid bearer token or session is required', { 'www-authenticate': 'Bearer' });
  if (role === 'admin' && caller.who.role !== 'admin') throw new HttpError(403, 'this action needs the admin role');
  return caller;
}

/** For a state change by a session: throws 403 unless the request comes from this service's page with the session's CSRF token. */
export function checkSessionWrite(request: FastifyRequest, caller: Caller, deps: AuthDeps, givenToken: unknown): void {
  if (caller.session === undefined) return;
  if (!fromHere(request, deps.publicUrl)) throw new HttpError(403, 'the request does not come from this site (Origin)');
  const token = givenToken ?? one(request.headers['x-csrf-token']);
  if (!deps.sessions.csrfValid(caller.session, token)) throw new HttpError(403, 'missing or invalid CSRF token');
}

/**
 * Whether the request's Origin (or, without one, its Referer) is this service: the public URL's origin,
 * or the Host the request was sent to. Neither header, `Origin: null`, or anything unparsable: no.
 */
export function fromHere(request: FastifyRequest, publicUrl?: string): boolean {
  const source = one(request.headers.origin) ?? one(request.headers.referer);
  if (source === undefined) return false;
  let from: URL;
  try {
    from = new URL(source);
  } catch {
    return false;
  }
  if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
  if (publicUrl !== undefined && new URL(publicUrl).origin === from.origin) return true;
  const host = request.headers.host;
  if (host === undefined) return false;
  try {
    // The Host read with the origin's scheme, so that default ports compare equal.
    return new URL(`${from.protocol}//${host}`).host === from.host;
  } catch {
    return false;
  }
}

/**
 * Whether the client reached the service over TLS: the socket is encrypted, the first
 * X-Forwarded-Proto is https (an ingress that terminates TLS), or the public URL is https.
 */
export function overTls(request: FastifyRequest, publicUrl?: string): boolean {
  if ((request.raw.socket as Partial<TLSSocket>).encrypted === true) return true;
  if (one(request.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase() === 'https') return true;
  return publicUrl !== undefined && new URL(publicUrl).protocol === 'https:';
}

/** Sets the session cookie (HttpOnly, SameSite=Strict; Secure over TLS); an empty value with 0 clears it. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number, publicUrl?: string): void {
  reply.setCookie(SESSION_COOKIE, value, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    maxAge: maxAgeSeconds,
    secure: overTls(request, publicUrl),
  });
}
