import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import { buildCli } from '../support/build.js';
import { cli } from '../support/cli.js';
import { eventLines } from '../support/grades.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * The store with real separate processes: the built CLI (`gradestream replay`) run as children.
 * Two replicas folding into one PostgreSQL database at once, and a replay killed half-way.
 */

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let runner: string;
let removeBuild: () => void;
const dir = mkdtempSync(join(tmpdir(), 'gradestream-processes-'));
const lines = eventLines(6000);
const write = (name: string, content: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, content.join('\n') + '\n');
  return path;
};

function start(args: string[]): { done: Promise<Child>; kill: () => void; exited: () => boolean } {
  const child = spawn(process.execPath, [runner, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Child>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { done, kill: () => child.kill('SIGKILL'), exited: () => exited };
}

async function dumpOf(url: string): Promise<string> {
  const store = await openStore(url);
  try {
    return await store.dump();
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  ({ runner, remove: removeBuild } = await buildCli());
}, 120_000);
afterAll(() => {
  removeBuild?.();
  rmSync(dir, { recursive: true, force: true });
});

describe('two processes folding into one PostgreSQL store at once', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('give the same state as one process folding everything', async () => {
    const [shared, single] = [await createTestDatabase(), await createTestDatabase()];
    dbs.push(shared, single);
    // Disjoint halves of one event set, over the same keys: the replicas contend on every key.
    const even = write('even.jsonl', lines.filter((_, i) => i % 2 === 0));
    const odd = write('odd.jsonl', lines.filter((_, i) => i % 2 === 1));
    const all = write('all.jsonl', lines);

    // Both start on an empty database: they also race to run the migrations.
    const replicas = await Promise.all(
      [even, odd].map((f) => start(['replay', f, '--json', '--batch-size', '40', '--state', shared.url]).done),
    );
    for (const r of replicas) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    const received = replicas.map((r) => (JSON.parse(r.stdout) as { received: number }).received);
    expect(received[0]! + received[1]!).toBe(lines.length);

    const one = await start(['replay', all, '--json', '--state', single.url]).done;
    expect(one.code).toBe(0);
    const expected = await dumpOf(single.url);
    expect(await dumpOf(shared.url)).toBe(expected);

    // And the same as SQLite folding it in-process.
    const sqlite = `sqlite:${join(dir, 'reference.db')}`;
    expect((await cli(['replay', all, '--state', sqlite])).code).toBe(0);
    expect(await dumpOf(sqlite)).toBe(expected);
  }, 120_000);
});

describe('a replay killed part-way (SQLite)', () => {
  it('run again on the whole file ends with the same state as one uninterrupted run', async () => {
    const big = write('big.jsonl', [...lines, ...eventLines(30_000)]);
    const path = join(dir, 'killed', 'state.db');
    const child = start(['replay', big, '--batch-size', '50', '--state', `sqlite:${path}`]);

    // Wait for some batches to be committed, then SIGKILL: no chance to clean up or finish a batch.
    let committed = 0;
    for (let i = 0; i < 2000 && committed === 0 && !child.exited(); i += 1) {
      await new Promise((r) => setTimeout(r, 10));
      try {
        const db = new Database(path, { readonly: true, fileMustExist: true });
        try {
          committed = Number((db.prepare('SELECT value FROM meta WHERE name = ?').get('change_seq') as { value: number }).value);
        } finally {
          db.close();
        }
      } catch {
        // not created or not migrated yet
      }
    }
    child.kill();
    const killed = await child.done;
    expect(killed.signal, `the replay finished before it could be killed: ${killed.stdout}`).toBe('SIGKILL');

    const rerun = await cli(['replay', big, '--json', '--state', `sqlite:${path}`]);
    expect(rerun.code).toBe(0);
    const counts = JSON.parse(rerun.stdout) as Record<string, number>;
    expect(counts['received']).toBe(36_000);

    const uninterrupted = `sqlite:${join(dir, 'uninterrupted', 'state.db')}`;
    expect((await cli(['replay', big, '--state', uninterrupted])).code).toBe(0);
    expect(await dumpOf(`sqlite:${path}`)).toBe(await dumpOf(uninterrupted));
  }, 120_000);
});
