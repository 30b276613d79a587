import { connect, type Socket } from 'node:net';

/** What came back for one raw request. */
export interface RawAnswer {
  /** The status of a well-formed first answer; undefined when none came. */
  status?: number;
  /** The first answer's head (status line and headers), lower-cased names. */
  headers: Record<string, string>;
  body: Buffer;
  /** The bytes received did not start as an HTTP/1.x answer (garbage), or the answer was cut short. */
  malformed: boolean;
  /** The server closed the connection (with or without an answer). */
  closed: boolean;
  /** Nothing decided within the deadline: no answer and no close. */
  hung: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** Parses the first HTTP answer of `data`: its head and body, or 'more' while it is incomplete. */
function parseAnswer(data: Buffer, method: string): Omit<RawAnswer, 'closed' | 'hung'> | 'more' {
  const end = data.indexOf(HEAD_END);
  if (end < 0) {
    // Not even a status line's beginning: garbage.
    return 'HTTP/1.'.startsWith(data.subarray(0, 7).toString('latin1')) ? 'more' : { headers: {}, body: Buffer.alloc(0), malformed: true };
  }
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(`${statusLine} `);
  if (!m) return { headers: {}, body: Buffer.alloc(0), malformed: true };
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    if (at <= 0) return { status: Number(m[1]), headers, body: Buffer.alloc(0), malformed: true };
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  const rest = data.subarray(end + 4);
  const status = Number(m[1]);
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return { status, headers, body: Buffer.alloc(0), malformed: false };
  if (headers['transfer-encoding'] !== undefined) {
    // Chunked: complete once the last chunk has come.
    return rest.includes('0\r\n\r\n') ? { status, headers, body: rest, malformed: false } : 'more';
  }
  const length = Number(headers['content-length'] ?? NaN);
  if (Number.isNaN(length)) return 'more'; // read until close
  return rest.length >= length ? { status, headers, body: rest.subarray(0, length), malformed: false } : 'more';
}

/**
 * Sends `chunks` on a new connection (each written as it is; `pauseMs` between them), half-closes
 * unless `keepOpen`, and waits for the first answer, the close, or the deadline.
 */
export function exchange(
  port: number,
  chunks: readonly (Buffer | string)[],
  options: { method?: string; deadlineMs?: number; keepOpen?: boolean; pauseMs?: number } = {},
): Promise<RawAnswer> {
  const method = options.method ?? 'GET';
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (answer: RawAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => {
      const parsed = parseAnswer(data, method);
      finish(parsed === 'more' ? { headers: {}, body: data, malformed: data.length > 0, closed: false, hung: data.length === 0 } : { ...parsed, closed: false, hung: false });
    }, options.deadlineMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parseAnswer(data, method);
      if (parsed !== 'more') finish({ ...parsed, closed: false, hung: false });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const parsed = parseAnswer(data, method);
      if (parsed !== 'more') return finish({ ...parsed, closed: true, hung: false });
      // Nothing at all: a clean close. A head without a length: the body ends at the close. Else cut short.
      const status = data.indexOf(HEAD_END) > 0 ? /^HTTP\/1\.[01] (\d{3}) /.exec(data.toString('latin1'))?.[1] : undefined;
      const readToClose = status !== undefined && !/\r\ncontent-length:/i.test(data.subarray(0, data.indexOf(HEAD_END)).toString('latin1'));
      finish({ status: readToClose ? Number(status) : undefined, headers: {}, body: data, malformed: data.length > 0 && !readToClose, closed: true, hung: false });
    });
    socket.once('connect', async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (socket.destroyed) return;
        if (i > 0 && options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
        socket.write(chunk);
      }
      if (!options.keepOpen && !socket.destroyed) socket.end();
    });
  });
}

/** A socket that sends `head` and all of `body` but its last byte, then holds; `answer` settles when the server answers or closes. */
export function slowSender(port: number, head: string, body: Buffer): { socket: Socket; answered: Promise<{ status?: number; closed: boolean }> } {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  const answered = new Promise<{ status?: number; closed: boolean }>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(data);
      if (m) resolve({ status: Number(m[1]), closed: false });
    });
    socket.on('close', () => {
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(data);
      resolve({ status: m ? Number(m[1]) : undefined, closed: true });
    });
  });
  socket.on('error', () => undefined);
  socket.once('connect', () => {
    socket.write(head);
    socket.write(body.subarray(0, body.length - 1));
  });
  return { socket, answered };
}
