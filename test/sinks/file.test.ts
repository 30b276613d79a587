import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../../src/errors.js';
import { SinkRejectedError } from '../../src/sinks/errors.js';
import { FileSink } from '../../src/sinks/file.js';
import type { Batch } from '../../src/sinks/types.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const csvBatch = (id: string, content: Batch['files'][number]['bytes']): Batch => ({
  id,
  files: [{ name: `gradestream-${id}.csv`, contentType: 'text/csv', bytes: content }],
});
const tempDir = () => mkdtemp(join(tmpdir(), 'gradestream-file-sink-'));

/** A stream that stops after its first chunk until `release` is called. */
function pausedStream(first: string, rest: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let paused!: () => void;
  const reachedPause = new Promise<void>((resolve) => (paused = resolve));
  async function* chunks() {
    yield bytes(first);
    paused();
    await gate;
    yield bytes(rest);
  }
  return { stream: chunks(), reachedPause, release };
}

describe('file sink', () => {
  it('removes the temporary files of deliveries killed before their rename, and nothing else', async () => {
    const dir = await tempDir();
    const left = ['.gradestream-b0.csv.4242.0a1b2c3d.tmp', '.gradestream-b0.csv.1.ffffffff.tmp'];
    const kept = ['.hidden', 'notes.tmp', '.x.tmp', 'gradestream-b0.csv'];
    for (const name of [...left, ...kept]) await writeFile(join(dir, name), 'x');
    await new FileSink(dir).deliver(csvBatch('b1', bytes('a\r\n')));
    expect((await readdir(dir)).sort()).toEqual([...kept, 'gradestream-b1.csv'].sort());
  });

  it('writes the batch under a name with its id and reports the path', async () => {
    const dir = await tempDir();
    const delivery = await new FileSink(dir).deliver(csvBatch('b1', bytes('a,b\r\n')));
    expect(delivery.location).toBe(join(dir, 'gradestream-b1.csv'));
    expect(await readFile(delivery.location, 'utf8')).toBe('a,b\r\n');
    expect((await stat(delivery.location)).mode & 0o007).toBe(0); // grades: no access for others
  });

  it('is idempotent: the same batch twice leaves one file with the same bytes', async () => {
    const dir = await tempDir();
    const sink = new FileSink(dir);
    const first = await sink.deliver(csvBatch('b1', bytes('x\r\n')));
    const second = await sink.deliver(csvBatch('b1', bytes('x\r\n')));
    expect(second.location).toBe(first.location);
    expect(await readdir(dir)).toEqual(['gradestream-b1.csv']);
    expect(await readFile(first.location, 'utf8')).toBe('x\r\n');
  });

  it('never shows a partial file under the final name', async () => {
    const dir = await tempDir();
    const sink = new FileSink(dir);
    const final = join(dir, 'gradestream-b2.csv');

    const { stream, reachedPause, release } = pausedStream('header\r\n', 'row\r\n');
    const delivering = sink.deliver(csvBatch('b2', stream));
    await reachedPause;
    const during = await readdir(dir);
    expect(during).not.toContain('gradestream-b2.csv');
    expect(during.every((name) => name.startsWith('.gradestream-b2.csv.') && name.endsWith('.tmp'))).toBe(true);
    release();
    await delivering;
    expect(await readFile(final, 'utf8')).toBe('header\r\nrow\r\n');

    // A re-delivery in progress leaves the earlier complete file in place until its rename.
    const again = pausedStream('header\r\n', 'row\r\n');
    const redelivering = sink.deliver(csvBatch('b2', again.stream));
    await again.reachedPause;
    expect(await readFile(final, 'utf8')).toBe('header\r\nrow\r\n');
    again.release();
    await redelivering;
    expect(await readdir(dir)).toEqual(['gradestream-b2.csv']);
  });

  it('leaves nothing behind when the rows fail mid-way, and passes their error on', async () => {
    const dir = await tempDir();
    async function* failing() {
      yield bytes('header\r\n');
      throw new Error('cursor lost');
    }
    await expect(new FileSink(dir).deliver(csvBatch('b3', failing()))).rejects.toThrow('cursor lost');
    expect(await readdir(dir)).toEqual([]);
  });

  it('creates the directory, and rejects one that cannot be', async () => {
    const dir = await tempDir();
    const nested = join(dir, 'var', 'outbox');
    await new FileSink(nested).deliver(csvBatch('b4', bytes('x')));
    expect(await readdir(nested)).toEqual(['gradestream-b4.csv']);

    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    await expect(new FileSink(join(blocker, 'outbox')).deliver(csvBatch('b5', bytes('x')))).rejects.toBeInstanceOf(SinkRejectedError);
  });

  it('refuses unsafe batch ids and file names without the id', async () => {
    const sink = new FileSink(await tempDir());
    await expect(sink.deliver(csvBatch('../evil', bytes('x')))).rejects.toBeInstanceOf(InternalError);
    await expect(
      sink.deliver({ id: 'b6', files: [{ name: 'feed.csv', contentType: 'text/csv', bytes: bytes('x') }] }),
    ).rejects.toBeInstanceOf(InternalError);
  });
});
