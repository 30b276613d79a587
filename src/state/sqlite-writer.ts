import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors.js';
import type { Reference } from './fold.js';
import { foldWriter, translate, type WriteRequest } from './sqlite-fold.js';
import type { WorkerData, WorkerReply, WorkerRequest } from './sqlite-worker.js';

/**
 * Where the SQLite fold's transactions run. better-sqlite3 is synchronous: on the caller's thread a
 * batch's B-tree work and commit would stop everything else (reading and parsing the next batch,
 * polling a broker, answering HTTP). For a file, a worker thread with its own connection writes while
 * the caller goes on; `:memory:` cannot be shared between connections, so it writes inline.
 */
export interface FoldWriter {
  write(request: WriteRequest): Promise<Reference>;
  close(): Promise<void>;
}

export function inlineWriter(db: Database.Database): FoldWriter {
  const tx = db.transaction(foldWriter(db));
  return {
    async write(request) {
      try {
        return tx.immediate([request])[0]!;
      } catch (err) {
        throw translate(err);
      }
    },
    async close() {},
  };
}

interface Pending {
  resolve(reference: Reference): void;
  reject(err: unknown): void;
}

/** The worker, on its entry point; from TypeScript sources (the tests), loaded through tsx. */
function startWorker(data: WorkerData): Worker {
  const here = import.meta.url;
  const options = { workerData: data, transferList: [data.port] };
  if (here.endsWith('.ts')) {
    // Resolved from the working directory: the project's, where the tests run.
    const entry = new URL('./sqlite-worker.ts', here).href;
    const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(fileURLToPath(new URL('./sqlite-worker.js', here)), options);
}

/**
 * A writer thread for the state file at `path` (which exists, migrated). Requests are answered in
 * order. A worker that dies fails what it had in hand (passing failures: redeliver) and is started
 * again on the next write. Idle, it does not keep the process alive.
 */
export function workerWriter(path: string): FoldWriter {
  let current: { worker: Worker; port: MessagePort } | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending>();

  const fail = (err: unknown) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const spawn = () => {
    const channel = new MessageChannel();
    const worker = startWorker({ path, port: channel.port2 });
    const port = channel.port1;
    const started = { worker, port };
    const gone = (err: unknown) => {
      if (current === started) current = undefined;
      port.close();
      fail(err);
    };
    worker.unref();
    port.unref();
    port.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (p === undefined) return;
      pending.delete(reply.id);
      if (pending.size === 0) {
        worker.unref();
        port.unref();
      }
      if ('error' in reply) p.reject(translate(Object.assign(new Error(reply.error.message), reply.error)));
      else p.resolve(reply.reference);
    });
    worker.on('error', (err) => gone(new StoreUnavailableError(`state store writer failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => gone(new StoreUnavailableError(`state store writer stopped (exit ${code})`)));
    return started;
  };

  return {
    write(request) {
      current ??= spawn();
      const { worker, port } = current;
      const id = nextId++;
      return new Promise<Reference>((resolve, reject) => {
        if (pending.size === 0) {
          worker.ref();
          port.ref();
        }
        pending.set(id, { resolve, reject });
        port.postMessage({ id, request } satisfies WorkerRequest);
      });
    },
    async close() {
      const started = current;
      current = undefined;
      if (started === undefined) return;
      // After the requests already sent: the worker answers them first, then closes its connection.
      const exited = new Promise<void>((resolve) => started.worker.once('exit', () => resolve()));
      started.worker.ref();
      started.port.postMessage('close');
      await exited;
    },
  };
}
