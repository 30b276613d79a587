import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { formFields, formOrJsonBodies, fieldsOf } from '../../src/service/body.js';
import { HttpError } from '../../src/service/http-error.js';
import { createHttpServer, listen, methodNotAllowed, type App } from '../../src/service/server.js';
import { exchange, slowSender } from '../support/raw-http.js';

/** The Fastify instance's own answers: what no handler decides. */
describe('the HTTP server', () => {
  let app: App;
  let port: number;
  let base: string;
  const logs: string[] = [];
  beforeAll(async () => {
    const log = createLogger('debug', { write: (line: string) => void logs.push(line) });
    app = createHttpServer({ log });
    await app.register(async (api) => {
      formOrJsonBodies(api, 1024);
      api.post('/echo', async (request) => Object.fromEntries(fieldsOf(request.body)));
    });
    app.get('/bug', async () => {
      throw new TypeError('a bug with a secret=s3cret inside');
    });
    app.get('/busy', async () => {
      throw new StoreUnavailableError('database restarting');
    });
    app.get('/teapot', async () => {
      throw new HttpError(418, 'short and stout', { 'x-why': 'tea' });
    });
    methodNotAllowed(app, { '/bug': ['GET'], '/echo': ['POST'] }, log);
    port = await listen(app, 0, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    app.server.closeAllConnections();
    await app.close();
  });

  it('answers an unexpected error 500 and logs it (without the query string); the server goes on', async () => {
    const r = await fetch(`${base}/bug?secret=s3cret`);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ error: 'internal error' });
    const line = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'request failed')!;
    expect(line).toMatchObject({ level: 50, method: 'GET', path: '/bug' });
    expect(JSON.stringify(line)).not.toContain('?secret');
    expect((await fetch(`${base}/bug`)).status).toBe(500);
  });

  it('answers a store that is unavailable for a moment 503 with Retry-After, and an HttpError as it says', async () => {
    const busy = await fetch(`${base}/busy`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('5');
    const teapot = await fetch(`${base}/teapot`);
    expect(teapot.status).toBe(418);
    expect(teapot.headers.get('x-why')).toBe('tea');
    expect(await teapot.json()).toEqual({ error: 'short and stout' });
  });

  it('answers unknown paths 404 and other methods 405 without reading the body, closing the connection', async () => {
    const body = Buffer.alloc(100_000, 'x');
    for (const [line, status] of [['POST /nope', 404], ['PUT /bug', 405], ['DELETE /echo', 405]] as const) {
      const held = slowSender(port, `${line} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`, body);
      expect(await held.answered, line).toMatchObject({ status });
      await new Promise((resolve) => (held.socket.destroyed ? resolve(undefined) : held.socket.once('close', resolve)));
    }
    const head = await fetch(`${base}/bug`, { method: 'HEAD' });
    expect(head.status).toBe(500); // HEAD is GET without the body
    expect((await fetch(`${base}/bug`, { method: 'OPTIONS' })).headers.get('allow')).toBe('GET');
  });

  it('answers unparsable requests 400 (or 431) on the socket, and closes it', async () => {
    for (const raw of ['NOT HTTP\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\u0000b\r\n\r\n', 'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n']) {
      const a = await exchange(port, [raw]);
      expect(a.status, raw).toBe(400);
      expect(a.headers['connection']).toBe('close');
      expect(JSON.parse(a.body.toString())).toEqual({ error: 'bad request' });
    }
    const big = await exchange(port, [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`]);
    expect(big.status).toBe(431);
    for (const target of ['/%E0%A4%A', '/echo%c0%af']) expect((await exchange(port, [`POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`])).status).toBe(400);
  });

  it('parses JSON refusing prototype keys, and forms onto objects without prototype; refuses bodies over the limit', async () => {
    const post = (body: string, type = 'application/json') => fetch(`${base}/echo`, { method: 'POST', body, headers: { 'content-type': type } });
    expect(await (await post('{"all": true, "n": 1}')).json()).toEqual({ all: 'true', n: '1' });
    expect(await (await post('{"all": true}', 'text/plain')).json()).toEqual({ all: 'true' }); // JSON under any type
    expect(await (await post('', 'application/json')).json()).toEqual({});
    expect((await post('{"__proto__": {"admin": true}}')).status).toBe(400);
    expect((await post('{"constructor": {"prototype": {"admin": true}}}')).status).toBe(400);
    expect((await post('{"a": {"b": 1}}')).status).toBe(400);
    expect((await post(`{"a": ${'['.repeat(400)}${']'.repeat(400)}}`)).status).toBe(400);
    expect((await post('[1]')).status).toBe(400);
    expect((await post('{nope')).status).toBe(400);
    expect((await post(`{"a":"${'x'.repeat(2000)}"}`)).status).toBe(413);
    expect(await (await post('a=1&a=2&__proto__=x&b=%E0%A4%A', 'application/x-www-form-urlencoded')).json()).toEqual({ a: '1', ['__proto__']: 'x', b: '\uFFFD%A' });
    expect(Object.getPrototypeOf(formFields('constructor=1'))).toBeNull();
  });
});
