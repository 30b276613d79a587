import { fixtureText, variant } from './events.js';

/**
 * A seeded generator of hostile raw HTTP requests against `gradestream run` (test/service/hostile-http.test.ts):
 * malformed request lines, URIs and percent-encodings, headers (huge, duplicate, invalid), framing
 * (Content-Length, Transfer-Encoding), and bodies (not UTF-8, nested deep, huge strings, NUL, BOM,
 * prototype keys), on every route, with and without valid credentials. Deterministic for a seed.
 */
export interface HostileRequest {
  /** what the case is, for a failure's message */
  kind: string;
  /** the route the request aims at (for which 5xx may be documented) */
  path: string;
  method: string;
  chunks: (string | Buffer)[];
}


export const CREDENTIALS = { secret: 's3cret', admin: 'adm', viewer: 'view' } as const;

const ROUTES: [method: string, path: string][] = [
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['POST', '/events'],
  ['GET', '/api/schedules'],
  ['POST', '/api/schedules/nightly/run'],
  ['POST', '/api/schedules/nightly/pause'],
  ['POST', '/api/schedules/nightly/resume'],
  ['POST', '/api/resend'],
  ['GET', '/api/runs'],
  ['GET', '/api/runs/1'],
  ['GET', '/api/held'],
  ['GET', '/api/quarantine'],
  ['GET', '/'],
  ['POST', '/login'],
  ['POST', '/logout'],
];

const BAD_ENCODINGS = ['%c0%af', '%E0%A4%A', '%', '%zz', '%00', '%ff%fe', '%ED%A0%80', '%F4%90%80%80', '%25', '%2e%2e', '%2F', '%u0041', '%%32%65', '%C0%80'];
const WEIRD_SEGMENTS = ['..', '.', '', '%2e%2e%2f', '\\', '~', 'nightly%00', 'a'.repeat(600), '%E2%82%AC', '__proto__', 'constructor', 'prototype', '9223372036854775808', '-1', '1e3', ' '];
const QUERIES = [
  '',
  '?limit=1',
  '?limit=0',
  '?limit=-1',
  '?limit=1e3',
  '?limit=10001',
  '?limit=1&limit=2',
  '?after=abc',
  '?after=1&after=2',
  '?after=99999999999999999999',
  '?after=%E0%A4%A',
  '?__proto__=1',
  '?__proto__[polluted]=1',
  '?constructor[prototype][polluted]=1',
  '?limit[]=1',
  '?limit=%00',
  '?secret=s3cret',
  '?secret=%c0%af',
  '?=&=&&==',
  `?x=${'y'.repeat(5000)}`,
  '?%',
  '?limit=%zz',
];
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'CONNECT', 'get', 'G ET', 'FOO', ''];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** Bodies that no sender should send, and a few that are fine. */
function body(rnd: () => number): Buffer {
  const event = fixtureText('grade_change');
  const choices: (() => Buffer | string)[] = [
    () => randomBytes(rnd, 1 + Math.floor(rnd() * 2000)),
    () => Buffer.concat([Buffer.from(event.slice(0, 60)), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff]), Buffer.from(event.slice(60))]),
    () => '['.repeat(20_000 + Math.floor(rnd() * 80_000)) + ']'.repeat(20_000),
    () => '{"a":'.repeat(30_000) + '1' + '}'.repeat(30_000),
    () => `{"metadata":{"event_name":"grade_change"},"body":{"grade":"${'A'.repeat(100_000 + Math.floor(rnd() * 150_000))}"}}`,
    () => `\u0000${event}`,
    () => event.replace('"body"', '"bo\u0000dy"'),
    () => `\uFEFF${event}`,
    () => '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"metadata":{"event_name":"grade_change"},"body":{}}',
    () => JSON.stringify(variant('grade_change', { body: { assignment_id: String(21070000000200000n + BigInt(Math.floor(rnd() * 1000))) } })),
    () => JSON.stringify(variant('course_grade_change', { body: { current_score: 1e308 * 10 } })),
    () => event.slice(0, Math.floor(rnd() * event.length)),
    () => '{"all":true}',
    () => '{"all":true,"course":"1"}',
    () => '[]',
    () => 'null',
    () => '"string"',
    () => '{"course":{"toString":1}}',
    () => `{"course":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
    () => 'all=true&_csrf=x',
    () => 'token=adm',
    () => `token=${'%'.repeat(3000)}`,
    () => '',
    () => 'x'.repeat(70_000),
  ];
  const b = pick(rnd, choices)();
  return typeof b === 'string' ? Buffer.from(b) : b;
}

function authHeaders(rnd: () => number): string[] {
  return pick(rnd, [
    [],
    [`X-Gradestream-Secret: ${CREDENTIALS.secret}`],
    ['X-Gradestream-Secret: guess'],
    [`Authorization: Bearer ${CREDENTIALS.admin}`],
    [`Authorization: Bearer ${CREDENTIALS.viewer}`],
    ['Authorization: Bearer'],
    ['Authorization: Bearer '.padEnd(8000, 'A')],
    ['Authorization: Basic YWRtOmFkbQ=='],
    ['Cookie: gradestream_session=%E0%A4%A; gradestream_session=x.y'],
    [`Cookie: gradestream_session=${'A'.repeat(43)}.${'B'.repeat(43)}`],
    ['Cookie: =; ;;; a=b=c; gradestream_session'],
    [`X-Gradestream-Secret: ${CREDENTIALS.secret}`, 'X-Gradestream-Secret: other'],
  ]);
}

/** One request's lines before the blank line: request line and headers, CRLF-joined. */
function head(requestLine: string, headers: string[]): string {
  return `${[requestLine, ...headers].join('\r\n')}\r\n\r\n`;
}

/** Admin mutations with valid credentials would run real syncs: the run route gets none. */
function safeAuth(rnd: () => number, path: string): string[] {
  const auth = authHeaders(rnd);
  return path.endsWith('/run') && auth.some((h) => h.includes(`Bearer ${CREDENTIALS.admin}`)) ? [] : auth;
}

export function hostileRequest(rnd: () => number): HostileRequest {
  const [method, path] = pick(rnd, ROUTES);
  const host = 'Host: 127.0.0.1';
  const kind = Math.floor(rnd() * 9);
  switch (kind) {
    case 0: {
      // A malformed request line.
      const lines = [
        'GET http://[/ HTTP/1.1',
        'GET //[::1 HTTP/1.1',
        'GET http://[::1 HTTP/1.1',
        `GET ${path}`,
        `GET ${path} HTTP/2.0`,
        `GET ${path} HTTP/1.1 extra`,
        `GET  ${path}  HTTP/1.1`,
        `GET\t${path}\tHTTP/1.1`,
        `${pick(rnd, METHODS)} ${path} HTTP/1.1`,
        `GET ${path}\u0000 HTTP/1.1`,
        `GET /${'a'.repeat(20_000)} HTTP/1.1`,
        'GET * HTTP/1.1',
        'CONNECT 127.0.0.1:22 HTTP/1.1',
        `GET ${path} HTTP/1.1\rX: y`,
        `GET ${path} HTTP/9.9`,
        '\r\n\r\nGET / HTTP/1.1',
        'GET http://evil.example/api/runs HTTP/1.1',
        `GET ${path}#fragment HTTP/1.1`,
      ];
      const line = pick(rnd, lines);
      // The method as sent decides whether an answer has a body (HEAD).
      return { kind: `request line ${JSON.stringify(line.slice(0, 40))}`, path, method: line.split(' ')[0]!, chunks: [head(line, [host, ...safeAuth(rnd, path)])] };
    }
    case 1: {
      // Bad percent-encodings and strange segments in the path, odd query strings.
      const segments = path.split('/');
      const at = 1 + Math.floor(rnd() * Math.max(1, segments.length - 1));
      segments[at] = rnd() < 0.5 ? `${segments[at] ?? ''}${pick(rnd, BAD_ENCODINGS)}` : pick(rnd, WEIRD_SEGMENTS);
      const target = `${segments.join('/')}${pick(rnd, QUERIES)}`;
      const raw = Buffer.from(`${method} ${target} HTTP/1.1\r\n`, 'latin1');
      return { kind: `uri ${JSON.stringify(target.slice(0, 60))}`, path, method, chunks: [raw, head('', [host, ...safeAuth(rnd, path), 'Content-Length: 0']).slice(2)] };
    }
    case 2: {
      // The route as it is with an odd query and credentials.
      const target = `${path}${pick(rnd, QUERIES)}`;
      return { kind: `query ${JSON.stringify(target.slice(0, 60))}`, path, method, chunks: [head(`${method} ${target} HTTP/1.1`, [host, ...safeAuth(rnd, path), 'Content-Length: 0'])] };
    }
    case 3: {
      // Headers: too large, too many, duplicated, invalid.
      const variants: [string, string[]][] = [
        ['huge header', [`X-Big: ${'b'.repeat(20_000)}`]],
        ['many headers', Array.from({ length: 3000 }, (_, i) => `X-H${i}: ${i}`)],
        ['duplicate host', ['Host: other']],
        ['nul in value', ['X-A: a\u0000b']],
        ['del in value', ['X-A: a\u007fb']],
        ['space in name', ['X A: b']],
        ['empty name', [': b']],
        ['obs-fold', ['X-A: a', ' continued']],
        ['no colon', ['X-A b']],
        ['utf-8 in value', ['X-A: é€😀']],
        ['latin-1 in value', ['X-A: \u00ff\u00fe']],
        ['huge cookie', [`Cookie: ${'c=d; '.repeat(3000)}`]],
        ['origin null', ['Origin: null', 'Content-Type: application/x-www-form-urlencoded']],
        ['forwarded', ['X-Forwarded-Proto: HTTPS, http', 'X-Forwarded-For: 1.2.3.4, ::1, garbage']],
        ['expect', ['Expect: 100-continue', 'Content-Length: 5']],
        ['upgrade', ['Connection: Upgrade', 'Upgrade: websocket']],
        ['content-type junk', ['Content-Type: application/json; charset=ebcdic; x=%', 'Content-Length: 2']],
      ];
      const [label, headers] = pick(rnd, variants);
      const tail = headers.some((h) => h.startsWith('Content-Length: 5')) ? 'hello' : headers.some((h) => h.startsWith('Content-Length: 2')) ? '{}' : '';
      return { kind: `headers: ${label}`, path, method, chunks: [head(`${method} ${path} HTTP/1.1`, [host, ...safeAuth(rnd, path), ...headers]) + tail] };
    }
    case 4: {
      // Framing: Content-Length and Transfer-Encoding that lie or contradict.
      const b = Buffer.from('{"all":true}');
      const variants: [string, string[], (string | Buffer)[]][] = [
        ['length -1', ['Content-Length: -1'], [b]],
        ['length abc', ['Content-Length: abc'], [b]],
        ['two lengths', ['Content-Length: 12', 'Content-Length: 13'], [b]],
        ['length and chunked', ['Content-Length: 12', 'Transfer-Encoding: chunked'], ['c\r\n', b, '\r\n0\r\n\r\n']],
        ['length too long', ['Content-Length: 100'], [b]],
        ['length too short', ['Content-Length: 3'], [b]],
        ['huge length', ['Content-Length: 99999999999999999999'], [b]],
        ['chunked bad size', ['Transfer-Encoding: chunked'], ['zz\r\n', b, '\r\n0\r\n\r\n']],
        ['chunked no end', ['Transfer-Encoding: chunked'], ['c\r\n', b, '\r\n']],
        ['chunked huge size', ['Transfer-Encoding: chunked'], ['ffffffffffffffff\r\n', b]],
        ['chunked over limit', ['Transfer-Encoding: chunked'], [...Array.from({ length: 40 }, () => `2000\r\n${'x'.repeat(0x2000)}\r\n`), '0\r\n\r\n']],
        ['gzip', ['Transfer-Encoding: gzip'], [b]],
        ['gzip, chunked', ['Transfer-Encoding: gzip, chunked'], ['c\r\n', b, '\r\n0\r\n\r\n']],
        ['chunked, identity', ['Transfer-Encoding: chunked, identity'], [b]],
        ['chunk extension', ['Transfer-Encoding: chunked'], [`c;${'e'.repeat(10_000)}\r\n`, b, '\r\n0\r\n\r\n']],
        ['trailers', ['Transfer-Encoding: chunked'], ['c\r\n', b, '\r\n0\r\nX-Trailer: a\u0000b\r\n\r\n']],
        ['pipelined', ['Content-Length: 12'], [b, `GET /healthz HTTP/1.1\r\n${host}\r\n\r\nGET /nope HTTP/1.1\r\n\r\n`]],
        ['smuggle', ['Content-Length: 40', 'Transfer-Encoding: chunked'], ['0\r\n\r\nGET /api/runs HTTP/1.1\r\nX: y']],
      ];
      const [label, headers, rest] = pick(rnd, variants);
      return { kind: `framing: ${label}`, path, method: 'POST', chunks: [head(`POST ${path} HTTP/1.1`, [host, ...safeAuth(rnd, path), ...headers]), ...rest] };
    }
    default: {
      // A body, to a route that takes one, with or without credentials and a content type.
      const target = pick(rnd, ['/events', '/events', '/events', '/api/resend', '/api/schedules/nightly/pause', '/login', '/logout', path]);
      const b = body(rnd);
      const types = ['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/jwt', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', ''];
      const type = pick(rnd, types);
      const headers = [host, ...safeAuth(rnd, target), `Content-Length: ${b.length}`];
      if (type !== '') headers.push(`Content-Type: ${type}`);
      if (rnd() < 0.3) headers.push('Origin: http://127.0.0.1');
      return { kind: `body to ${target} (${b.length} bytes, ${type || 'no type'})`, path: target, method: 'POST', chunks: [head(`POST ${target} HTTP/1.1`, headers), b] };
    }
  }
}
