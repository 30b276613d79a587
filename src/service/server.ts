import { STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isRetryable, PortUnavailableError } from '../errors.js';
import type { Logger } from '../log.js';
import { HttpError } from './http-error.js';
import {
  CONNECTIONS_CHECK_MS,
  DEFAULT_BODY_LIMIT,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HEADER_SIZE,
  MAX_PARAM_LENGTH,
  REQUEST_TIMEOUT_MS,
} from './limits.js';

/**
 * The Fastify instance of `gradestream run`, with the boundary's limits (src/service/limits.ts) and its
 * answers to what no route handles: a malformed request line or headers (400, 408, 431, written on the
 * socket, which is then closed), a malformed URL or percent-encoding (400), an unknown path (404), a
 * refused body (413, 415, 400) and, last, an unexpected error (500, logged). Whatever a request holds,
 * it gets an answer or a clean close, and the process goes on. Nothing is logged per request above debug.
 */
export interface ServerOptions {
  log: Logger;
  /** Addresses or CIDRs of proxies whose X-Forwarded-For names the client (GRADESTREAM_TRUSTED_PROXIES). */
  trustedProxies?: readonly string[];
}

export type App = FastifyInstance;

export function createHttpServer(options: ServerOptions): App {
  const { log } = options;
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: DEFAULT_BODY_LIMIT,
    connectionTimeout: 0,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
      maxHeaderSize: MAX_HEADER_SIZE,
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    trustProxy: options.trustedProxies === undefined || options.trustedProxies.length === 0 ? false : [...options.trustedProxies],
    // A client's X-Request-Id is not believed.
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      answerClientError(err, socket, log);
    },
    frameworkErrors(err, request, reply) {
      // A path whose percent-encoding is not UTF-8, or a parameter over MAX_PARAM_LENGTH.
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      answerError(new HttpError(status, status === 414 ? 'a path segment is too long' : 'malformed URL'), request, reply, log);
    },
  }) as unknown as App;
  app.server.maxConnections = MAX_CONNECTIONS;

  app.setErrorHandler((err, request, reply) => answerError(err, request, reply, log));
  app.setNotFoundHandler((request, reply) => answerError(new HttpError(404, 'not found'), request, reply, log));
  // Unknown paths are answered before their body is read.
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return answerError(new HttpError(404, 'not found'), request, reply, log);
    return undefined;
  });
  return app;
}

/**
 * Paths served for some methods answer the others 405, before reading a body. Call after the routes of
 * `paths` are registered with their methods (`allowed`).
 */
export function methodNotAllowed(app: App, routes: Record<string, readonly string[]>, log: Logger): void {
  const all = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
  for (const [url, allowed] of Object.entries(routes)) {
    const others = all.filter((m) => !allowed.includes(m) && !(m === 'HEAD' && allowed.includes('GET')));
    app.route({
      method: others,
      url,
      onRequest: async (request, reply) => answerError(new HttpError(405, 'method not allowed', { allow: allowed.join(', ') }), request, reply, log),
      handler: async () => undefined,
    });
  }
}

/** The request's path without its query string (which may carry the webhook secret), for logs. */
export const pathOf = (url: string | undefined): string => (url ?? '').split('?')[0]!.slice(0, 200);

/** Fastify's own errors (body, content type, JSON) as the answer a client gets: status and message. */
function describe(err: unknown, request: FastifyRequest): { status: number; message: string; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers };
  // The store unavailable for a moment (a session looked up, a run listed): come back.
  if (isRetryable(err)) return { status: 503, message: 'state store unavailable', headers: { 'retry-after': '5' } };
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown } | null;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  if (status < 400 || status >= 500) return { status: 500, message: 'internal error', headers: {} };
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `body larger than ${request.routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes`, headers: {} };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: 'unsupported content type', headers: {} };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'the body does not match its Content-Length', headers: {} };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case undefined:
      // JSON.parse's SyntaxError (with a piece of the body) and the prototype-poisoning refusals.
      if (err instanceof SyntaxError || e?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, message: 'the body must be JSON or a form', headers: {} };
      break;
  }
  return { status, message: typeof e?.message === 'string' ? e.message.slice(0, 200) : (STATUS_CODES[status] ?? 'bad request'), headers: {} };
}

/** The one place an error becomes an answer: `{"error": message}`, and the connection closed if its body was not read. */
export function answerError(err: unknown, request: FastifyRequest, reply: FastifyReply, log: Logger): FastifyReply {
  const { status, message, headers } = describe(err, request);
  if (status === 503 && !(err instanceof HttpError)) {
    log.warn({ err, method: request.method, path: pathOf(request.raw.url) }, 'request failed: state store unavailable');
  } else if (status >= 500 && !(err instanceof HttpError)) {
    log.error({ err, method: request.method, path: pathOf(request.raw.url) }, 'request failed');
  } else {
    log.debug({ status, method: request.method, path: pathOf(request.raw.url) }, message);
  }
  if (reply.sent) return reply;
  closeIfBodyUnread(request, reply.headers(headers));
  return reply.code(status).type('application/json; charset=utf-8').send({ error: message });
}

/**
 * A request answered before its body was read: the connection is closed after the answer, rather than
 * the rest of the body being read (and thrown away) from a sender that may be slow on purpose.
 */
export function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  const { raw } = request;
  const hasBody = raw.headers['transfer-encoding'] !== undefined || (raw.headers['content-length'] ?? '0') !== '0';
  if (hasBody && !raw.complete) reply.header('connection', 'close');
}

/** What Node could not parse as a request (request line, headers, timeouts): a bare answer, then close. */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, log: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  log.debug({ code: err.code, status }, 'unparsable request');
  // Never into the middle of an answer already being written on this connection.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify({ error: status === 408 ? 'request timeout' : status === 431 ? 'headers too large' : 'bad request' });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Listens on `port` as Node does with no host (all addresses, IPv6 when available) and answers the
 * port. Fastify's own listen would default to localhost.
 */
/** EADDRINUSE and EACCES say what to do, naming the setting; anything else as it is. */
function portProblem(err: NodeJS.ErrnoException, port: number): Error {
  const choose = 'choose another with --port N (or GRADESTREAM_HTTP_PORT)';
  if (err.code === 'EADDRINUSE') return new PortUnavailableError(`port ${port} is in use by another process: ${choose}`, { cause: err });
  if (err.code === 'EACCES') return new PortUnavailableError(`not allowed to listen on port ${port} (below 1024 needs privileges): ${choose}`, { cause: err });
  return err;
}

export async function listen(app: App, port: number, host?: string): Promise<number> {
  await app.ready();
  await new Promise<void>((resolve, reject) => {
    const refused = (err: NodeJS.ErrnoException) => reject(portProblem(err, port));
    app.server.once('error', refused);
    app.server.listen(port, host, () => {
      app.server.off('error', refused);
      resolve();
    });
  });
  return (app.server.address() as AddressInfo).port;
}
