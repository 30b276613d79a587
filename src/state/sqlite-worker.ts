import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Reference } from './fold.js';
import { configure, foldWriter, type WriteRequest } from './sqlite-fold.js';

/**
 * The SQLite fold's writing thread (see src/state/sqlite-writer.ts): its own connection to the state
 * file. Requests that queued while it was busy share one transaction (group commit, up to
 * GROUP_ROWS rows): a commit writes every page the transaction touched, and with keys spread at
 * random that is most of the state whatever the number of rows, so the fewer commits the better when
 * the writer is the bottleneck, and an idle writer still commits each request at once. Replies, in
 * request order, only after the commit: `{id, reference}` or `{id, error}`, an error keeping its SQLite
 * `code` so that the caller can tell a passing failure from a wrong batch.
 */

export interface WorkerRequest {
  id: number;
  request: WriteRequest;
}

export type WorkerReply = { id: number; reference: Reference } | { id: number; error: { message: string; code?: string } };

export interface WorkerData {
  path: string;
  port: MessagePort;
}

/** Rows (winners written) above which a transaction stops taking queued requests. */
const GROUP_ROWS = 80_000;

const { path, port } = workerData as WorkerData;
const db = new Database(path, { fileMustExist: true });
configure(db, false);
const write = foldWriter(db);
const rowsOf = (r: WriteRequest) => r.writes.reduce((n, w) => n + w.rows.length, 0) + r.quarantine.length;

let closing = false;

/** Requests queued behind `first`, up to GROUP_ROWS rows in all (noting a 'close' among them). */
function takeQueued(first: WorkerRequest): WorkerRequest[] {
  const taken = [first];
  let rows = rowsOf(first.request);
  while (rows < GROUP_ROWS && !closing) {
    const queued = receiveMessageOnPort(port)?.message as WorkerRequest | 'close' | undefined;
    if (queued === undefined) break;
    if (queued === 'close') closing = true;
    else {
      taken.push(queued);
      rows += rowsOf(queued.request);
    }
  }
  return taken;
}

const transaction = db.transaction(write);

function failure(id: number, err: unknown): WorkerReply {
  const code = (err as { code?: unknown }).code;
  return { id, error: { message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}) } };
}

port.on('message', (message: WorkerRequest | 'close') => {
  if (message === 'close') closing = true;
  else {
    const taken = takeQueued(message);
    try {
      const references = transaction.immediate(taken.map((t) => t.request));
      taken.forEach((t, i) => port.postMessage({ id: t.id, reference: references[i]! } satisfies WorkerReply));
    } catch (err) {
      // Rolled back as a whole: each again on its own, so that only the request at fault fails.
      for (const t of taken) {
        try {
          const reference = taken.length === 1 ? undefined : transaction.immediate([t.request])[0]!;
          port.postMessage(reference === undefined ? failure(t.id, err) : ({ id: t.id, reference } satisfies WorkerReply));
        } catch (alone) {
          port.postMessage(failure(t.id, alone));
        }
      }
    }
  }
  if (closing) {
    db.close();
    port.close();
  }
});
