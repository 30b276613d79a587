import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';

/**
 * A deliberately small HTTP layer on node:http: the service has a dozen fixed routes, and owning the
 * body reading (size limit, 2xx only after commit) matters more here than a framework's features.
 */

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** the route's `{name}` segments */
  params: Record<string, string>;
  raw: IncomingMessage;
  /** reads the body as UTF-8 text, refusing more than `limit` bytes (HttpError 413) */
  text(limit?: number): Promise<string>;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer | object;
}

export type Handler = (req: Request) => Promise<Reply> | Reply;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | undefined {
    const parts = path.split('/').filter(Boolean);
    let wrongMethod = false;
    for (const route of this.routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.parts.every((p, i) => {
        if (p.startsWith('{') && p.endsWith('}')) {
          params[p.slice(1, -1)] = decodeURIComponent(parts[i]!);
          return true;
        }
        return p === parts[i];
      });
      if (!ok) continue;
      if (route.method === method || (route.method === 'GET' && method === 'HEAD')) return { handler: route.handler, params };
      wrongMethod = true;
    }
    return wrongMethod ? 'method' : undefined;
  }
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

function readText(raw: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(raw.headers['content-length'] ?? NaN);
    if (declared > limit) {
      reject(new HttpError(413, `body larger than ${limit} bytes`));
      raw.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    raw.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `body larger than ${limit} bytes`));
        raw.removeAllListeners('data');
        raw.resume();
        return;
      }
      chunks.push(chunk);
    });
    raw.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    raw.on('error', reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  const headers = { ...reply.headers };
  let body: string | Buffer | undefined;
  if (reply.body === undefined || typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) {
    body = reply.body as string | Buffer | undefined;
  } else {
    body = JSON.stringify(reply.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(reply.status, headers);
  res.end(body);
}

export function createHttpServer(router: Router, log: Logger): Server {
  return createServer((raw, res) => {
    const url = new URL(raw.url ?? '/', 'http://localhost');
    const found = router.match(raw.method ?? 'GET', url.pathname);
    if (found === undefined) return send(res, { status: 404, body: { error: 'not found' } });
    if (found === 'method') return send(res, { status: 405, body: { error: 'method not allowed' } });
    const req: Request = {
      method: raw.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: raw.headers,
      params: found.params,
      raw,
      text: (limit = DEFAULT_BODY_LIMIT) => readText(raw, limit),
    };
    Promise.resolve()
      .then(() => found.handler(req))
      .then(
        (reply) => send(res, reply),
        (err: unknown) => {
          if (err instanceof HttpError) return send(res, { status: err.status, headers: err.headers, body: { error: err.message } });
          log.error({ err, path: url.pathname }, 'request failed');
          send(res, { status: 500, body: { error: 'internal error' } });
        },
      );
  });
}

export async function listen(server: Server, port: number, host?: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
