import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBench } from '../support/build.js';
import { postgresUrl } from '../support/postgres.js';

/**
 * The sync benchmark of issue #4 (`npm run bench sync`), end to end at a small size on both backends,
 * so that it keeps working: its state builder, its change rounds and each sync in a child process of
 * its own. The benchmark checks itself (every changed key is sent, a sync right after sends nothing)
 * and fails otherwise; here, that it ran to its targets line for each backend with those row counts.
 * Its figures are not asserted: performance is read from the benchmark's output, never timed in tests.
 */

let bench: Awaited<ReturnType<typeof buildBench>>;
beforeAll(async () => {
  bench = await buildBench();
});
afterAll(() => bench?.remove());

describe('npm run bench sync', () => {
  it('builds a state, syncs changed keys as CSV and JSON Lines and a quiet night, on SQLite and PostgreSQL', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [bench.main, 'sync'], {
      env: {
        ...process.env,
        GRADESTREAM_BENCH_POSTGRES_URL: postgresUrl(),
        GRADESTREAM_BENCH_SYNC_KEYS: '3000',
        GRADESTREAM_BENCH_SYNC_ROWS: '700',
        GRADESTREAM_BENCH_ROUNDS: '1',
      },
      maxBuffer: 16 * 1024 * 1024,
    });
    for (const backend of ['SQLite', 'PostgreSQL']) {
      const line = stdout.split('\n').find((l) => l.includes(`targets (${backend})`));
      expect(line, `${backend} targets line in:\n${stdout}`).toMatch(
        /700-row CSV sync [0-9,]+ rows\/s \(>= 200,000: (met|MISSED)\), peak RSS \d+ MB \(< 300 MB: (met|MISSED)\); no-change sync [0-9.]+ s \(< 2 s: (met|MISSED)\)/,
      );
    }
    // Each backend's table: the rows each sync sent (the columns after the name: rows, wall s, …).
    const sent = (name: string) =>
      [...stdout.matchAll(new RegExp(`^  ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+([0-9,]+) `, 'gm'))].map((m) => m[1]);
    expect(sent('700 changed rows → file:, CSV')).toEqual(['700', '700']);
    expect(sent('700 changed rows → file:, JSON Lines')).toEqual(['700', '700']);
    expect(sent('nothing changed, 3,000 keys')).toEqual(['0', '0']);
  }, 180_000);
});
