import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import type { HistoryEntry } from '../../src/sync/engine.js';
import { buildCli } from '../support/build.js';
import { cli } from '../support/cli.js';
import { backends } from '../support/stores.js';
import { A1, A2, S1, filesIn, fold, grade, tempDir } from './world.js';

/**
 * The sync engine with real separate processes: the built CLI run as children. A run killed between
 * delivery and acknowledgement (the test-only GRADESTREAM_TEST_CRASH_POINT hook), and two replicas
 * racing for the same occurrence on PostgreSQL.
 */

interface Child {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let runner: string;
let removeBuild: () => void;

function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Child> {
  const child = spawn(process.execPath, [runner, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<Child>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

beforeAll(async () => {
  ({ runner, remove: removeBuild } = await buildCli());
}, 120_000);
afterAll(() => removeBuild?.());

async function seed(url: string): Promise<void> {
  const store = await openStore(url);
  try {
    await fold(
      store,
      grade('2026-03-01T10:00:00Z', { assignment: A1, student: S1, score: 5 }),
      grade('2026-03-01T10:00:00Z', { assignment: A2, student: S1, score: 6 }),
    );
  } finally {
    await store.close();
  }
}

describe.each(backends)('a run killed between delivery and acknowledgement ($name)', (backend) => {
  for (const point of ['after_deliver', 'after_persist'] as const) {
    it(`(${point}) is delivered again with the same batch id, and nothing is acknowledged twice`, async () => {
      const { url, remove } = await backend.storage();
      try {
        await seed(url);
        const dir = tempDir('crash');
        const outbox = join(dir, 'outbox');
        const schedulesFile = join(dir, 'schedules.yaml');
        writeFileSync(schedulesFile, '- {id: nightly, hourOfDay: 2, postedBy: Ada}\n');
        const args = ['--json', '--state', url, '--schedules', schedulesFile, '--sink', `file:${outbox}`];

        const killed = await start(['sync', 'nightly', '--as', 'ops', ...args], { GRADESTREAM_TEST_CRASH_POINT: point });
        expect(killed.signal, killed.stderr).toBe('SIGKILL');
        const before = point === 'after_deliver' ? filesIn(outbox) : [];
        if (point === 'after_deliver') expect(before).toHaveLength(1);
        const first = point === 'after_deliver' ? join(outbox, before[0]!) : '';
        const firstBytes = point === 'after_deliver' ? readFileSync(first, 'utf8') : '';
        const firstInode = point === 'after_deliver' ? statSync(first).ino : 0;

        const crashed = JSON.parse((await cli(['runs', 'show', '1', ...args])).stdout) as HistoryEntry;
        expect(crashed).toMatchObject({ id: '1', status: 'running', batch: null });

        // The restart: a new run first finishes the crashed one, delivering its batch again.
        const restart = await start(['sync', 'nightly', '--as', 'ops', ...args]);
        expect(restart.code, restart.stderr).toBe(0);
        const second = JSON.parse(restart.stdout) as HistoryEntry;
        expect(second).toMatchObject({ id: '2', status: 'succeeded', rows: 0 }); // nothing acknowledged twice

        const recovered = JSON.parse((await cli(['runs', 'show', '1', ...args])).stdout) as HistoryEntry;
        expect(recovered).toMatchObject({ id: '1', status: 'succeeded', rows: 2, batch_id: crashed.batch_id, error: null });
        expect(recovered.batch).toBe(join(outbox, `gradestream-${crashed.batch_id}.csv`));
        // One file for the recovered batch (written again under the same name), one for the new run.
        expect(filesIn(outbox)).toEqual([`gradestream-${crashed.batch_id}.csv`, `gradestream-${second.batch_id}.csv`].sort());
        const bytes = readFileSync(recovered.batch!, 'utf8');
        expect(bytes.split('\r\n').filter((l) => l.startsWith('assignment,'))).toHaveLength(2);
        if (point === 'after_deliver') {
          expect(bytes).toBe(firstBytes); // same batch, same bytes
          expect(statSync(recovered.batch!).ino).not.toBe(firstInode); // and it was delivered again
        }
        expect(readFileSync(second.batch!, 'utf8').split('\r\n')).toHaveLength(2); // header only

        // and the next run too has nothing to send
        expect((JSON.parse((await cli(['sync', 'nightly', '--as', 'ops', ...args])).stdout) as HistoryEntry).rows).toBe(0);
      } finally {
        await remove();
      }
    }, 60_000);
  }
});

describe('two replicas racing for the same occurrence (PostgreSQL)', () => {
  it('run it exactly once', async () => {
    const pg = backends.find((b) => b.name === 'postgres')!;
    const { url, remove } = await pg.storage();
    try {
      await seed(url);
      const dir = tempDir('race');
      const outbox = join(dir, 'outbox');
      const schedulesFile = join(dir, 'schedules.yaml');
      writeFileSync(
        schedulesFile,
        '- {id: nightly, hourOfDay: 2, postedBy: Ada}\n- {id: other, hourOfDay: 2, timeZone: Europe/Paris, postedBy: Bo}\n',
      );
      const args = ['schedules', 'tick', '--now', '2026-03-02T02:00:30Z', '--json', '--state', url, '--schedules', schedulesFile, '--sink', `file:${outbox}`];
      for (let round = 0; round < 3; round++) {
        const replicas = await Promise.all([start(args), start(args), start(args)]);
        for (const r of replicas) expect(r.code, r.stderr).toBe(0);
        const ran = replicas.flatMap((r) => (JSON.parse(r.stdout) as { runs: HistoryEntry[] }).runs);
        // Each occurrence once, over every round and replica: nightly at 02:00Z, other at 01:00Z (02:00 Paris).
        expect(ran.map((e) => [e.schedule, e.scheduled_for, e.status]).sort()).toEqual(
          round === 0
            ? [
                ['nightly', '2026-03-02T02:00:00.000Z', 'succeeded'],
                ['other', '2026-03-02T01:00:00.000Z', 'succeeded'],
              ]
            : [],
        );
      }
      const history = (JSON.parse((await cli(['runs', 'list', '--json', '--state', url, '--schedules', schedulesFile])).stdout) as { runs: HistoryEntry[] }).runs;
      expect(history).toHaveLength(2);
      // One target: the two runs never overlapped and never sent the same change twice.
      expect(history.map((e) => e.rows).sort()).toEqual([0, 2]);
      expect(filesIn(outbox)).toHaveLength(2);
    } finally {
      await remove();
    }
  }, 60_000);
});
