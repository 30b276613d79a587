/**
 * The HTTP boundary's limits (README "Security"). Fixed, not settings: they are what a webhook, an admin
 * API and a Prometheus scrape need, and they bound what a hostile client can hold.
 */

/**
 * POST /events body. Canvas's grade events are a few KB (a signed one under 10 KB); 256 KiB leaves room
 * for the largest events Canvas sends on a subscription (ignored ones included) while bounding what
 * MAX_CONNECTIONS bodies in flight can hold: 512 × 256 KiB = 128 MiB at worst, in modes that must read
 * the body to authenticate it (jwt, none).
 */
export const EVENTS_BODY_LIMIT = 256 * 1024;
/** /api/* bodies: a resend selector or a form's few fields. */
export const API_BODY_LIMIT = 64 * 1024;
/** POST /login: one token. */
export const LOGIN_BODY_LIMIT = 8 * 1024;
/** Any other route (and the answers 404 and 405, which are sent before a body is read). */
export const DEFAULT_BODY_LIMIT = 8 * 1024;

/** A request's headers must all arrive within this (Node's default is 60 s; a sender sends them at once). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A request, headers and body, must arrive within this (Node's default is 300 s): 256 KiB at 9 KB/s. */
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * An idle keep-alive connection is closed after this: longer than the 60 s idle timeout of the usual
 * load balancers and ingresses, so the server never closes a connection the proxy is about to reuse.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** How often Node checks the two timeouts above (its default, 30 s, lets a request overstay by that much). */
export const CONNECTIONS_CHECK_MS = 1_000;
/** Connections at once; one more is closed at once (bounds sockets, parsers and bodies in flight). */
export const MAX_CONNECTIONS = 512;
/** Request line and headers together (Node's default, stated): more is answered 431. */
export const MAX_HEADER_SIZE = 16 * 1024;
/** The longest path segment a route parameter takes (a schedule or run id); longer is answered 414. */
export const MAX_PARAM_LENGTH = 500;

/** Sign-ins per client address per minute (POST /login), successful or not; more is answered 429. */
export const SIGN_IN_LIMIT = { max: 10, windowMs: 60_000 } as const;
/** How long an admin page session lasts. */
export const SESSION_TTL_MS = 8 * 3_600_000;
