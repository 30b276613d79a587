import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { GradestreamError } from '../errors.js';
import { SinkRejectedError, SinkUnavailableError } from './errors.js';
import { checkBatch, delivered, type Batch, type Bytes, type Delivery, type Sink } from './types.js';

/**
 * `file:DIR` (SPEC §5): each file is written under a temporary dot-name in DIR, fsynced, then renamed
 * onto its final name, which contains the batch id. A reader of DIR therefore sees a batch file whole
 * or not at all, and a re-delivery of the same batch replaces it with the same bytes: one file.
 * Temporary names start with "." and end in ".tmp" so an SIS pickup job can skip them. A delivery
 * killed half-way leaves its temporary file behind: the next delivery to the directory removes it
 * (deliveries to one target never overlap, so no temporary file of this form is another's in progress).
 */

/** Grades are student records: owner read-write, group read (for an SIS pickup account), others none. */
const FILE_MODE = 0o640;

/** Errors that another attempt will not fix without an operator. */
const PERMANENT = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG']);

export class FileSink implements Sink {
  readonly target: string;

  constructor(readonly dir: string) {
    this.target = `file:${dir}`;
  }

  async deliver(batch: Batch): Promise<Delivery> {
    checkBatch(batch);
    const locations: string[] = [];
    try {
      await mkdir(this.dir, { recursive: true });
      await removeLeftovers(this.dir);
      for (const file of batch.files) {
        const path = join(this.dir, file.name);
        await writeAtomically(path, file.bytes);
        locations.push(path);
      }
      await syncDirectory(this.dir);
    } catch (err) {
      throw asSinkError(err, `cannot write batch ${batch.id} to ${this.dir}`);
    }
    return delivered(locations);
  }
}

const tempName = (name: string): string => `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
const TEMP = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/** Removes the temporary files of deliveries that were killed before their rename. */
async function removeLeftovers(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (TEMP.test(name)) await unlink(join(dir, name)).catch(() => undefined);
  }
}

async function writeAtomically(path: string, bytes: Bytes): Promise<void> {
  const temp = join(dirname(path), tempName(basename(path)));
  const handle = await open(temp, 'wx', FILE_MODE);
  try {
    if (bytes instanceof Uint8Array) await handle.writeFile(bytes);
    else for await (const chunk of bytes) await handle.write(chunk);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** Makes the renames durable. Best effort: not every platform can open a directory for fsync. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows and some network file systems refuse; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function asSinkError(err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  // A typed error (the row source's store went away) or a bug is not the sink's failure.
  if (err instanceof GradestreamError || typeof code !== 'string') return err as Error;
  const message = `${what}: ${(err as Error).message}`;
  return PERMANENT.has(code)
    ? new SinkRejectedError(message, undefined, { cause: err })
    : new SinkUnavailableError(message, 1, { cause: err });
}
