import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../src/state/postgres-migrations.js';
import { openStore } from '../../src/state/store.js';
import { createTestDatabase } from '../support/postgres.js';
import { sqliteAtVersion } from '../support/sqlite-versions.js';

/**
 * Migration 3 on a store that synced under migration 2: the ledger keeps every entry (its target now
 * a number, the run that delivered it found from its batch), a batch left pending in the old form is
 * abandoned (its rows go out with the next run), and the old tables are gone.
 */

const T1 = 'file:/srv/outbox';
const T2 = 'https://sis.example.edu/grades';

/** What a version-2 store holds: a ledger over two targets (one never resent: no sync_targets row), two batches. */
const V2_ROWS = `
INSERT INTO sync_runs (schedule_id, trigger_type, triggered_by, started_at, status, target, scope)
  VALUES ('nightly', 'manual', 'Ada', 1, 'succeeded', '${T1}', '*'), ('nightly', 'manual', 'Ada', 2, 'running', '${T1}', '*');
INSERT INTO sync_batches (id, target, run_id, schedule_id, scope, format, status, watermark, epoch, queue_mark, created_at)
  VALUES ('b-1', '${T1}', 1, 'nightly', '*', 'csv', 'acked', 5, 0, 0, 10), ('b-2', '${T1}', 2, 'nightly', '*', 'csv', 'pending', 9, 0, 0, 20);
INSERT INTO sync_targets (target, epoch) VALUES ('${T1}', 2);
INSERT INTO sync_acked (target, record_type, k1, k2, k3, course_id, digest, op, batch_id, acked_at) VALUES
  ('${T1}', 'assignment', 355, 48, -1, 565, 'd1', 'upsert', 'b-1', 11),
  ('${T1}', 'course', 565, 48, -1, 565, 'd2', 'delete', 'b-1', 11),
  ('${T2}', 'assignment', 355, 48, -1, 565, 'd3', 'upsert', 'gone', 12);
`;

const EXPECTED_LEDGER = [
  { target: T1, record_type: 'assignment', k1: '355', k2: '48', k3: '-1', course_id: '565', digest: 'd1', op: 'upsert', run_id: '1' },
  { target: T1, record_type: 'course', k1: '565', k2: '48', k3: '-1', course_id: '565', digest: 'd2', op: 'delete', run_id: '1' },
  { target: T2, record_type: 'assignment', k1: '355', k2: '48', k3: '-1', course_id: '565', digest: 'd3', op: 'upsert', run_id: '0' },
];
const LEDGER = `SELECT t.target, a.record_type, a.k1, a.k2, a.k3, a.course_id, a.digest, a.op, a.run_id
  FROM sync_acked a JOIN sync_targets t ON t.id = a.target_id ORDER BY t.target, a.record_type`;
const text = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]));

describe('migration 3 (sync storage)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('SQLite: keeps the ledger, abandons an old-form pending batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-migration-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'state.db');
    const db = sqliteAtVersion(path, 2);
    db.exec(V2_ROWS);
    db.close();

    await (await openStore(`sqlite:${path}`)).close();

    const after = new Database(path, { readonly: true });
    cleanups.push(async () => {
      after.close();
    });
    expect((after.prepare(LEDGER).all() as Record<string, unknown>[]).map(text)).toEqual(EXPECTED_LEDGER);
    expect(after.prepare('SELECT target, epoch FROM sync_targets ORDER BY id').all()).toEqual([
      { target: T1, epoch: 2 },
      { target: T2, epoch: 0 },
    ]);
    expect(after.prepare('SELECT id, status, finished_at FROM sync_batches ORDER BY id').all()).toEqual([
      { id: 'b-1', status: 'acked', finished_at: null },
      { id: 'b-2', status: 'abandoned', finished_at: 20 },
    ]);
    const tables = (after.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['sync_batch_keys', 'sync_batch_chunks']));
    expect(tables).not.toContain('sync_batch_rows');
    expect(tables).not.toContain('sync_candidates');
  });

  it('PostgreSQL: keeps the ledger, abandons an old-form pending batch', async () => {
    const database = await createTestDatabase();
    cleanups.push(database.drop);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    cleanups.push(() => client.end());
    await client.query(`CREATE TABLE schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    for (const m of POSTGRES_MIGRATIONS.filter((x) => x.version <= 2)) {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await client.query(V2_ROWS);

    await (await openStore(database.url)).close();

    expect((await client.query(LEDGER)).rows.map(text)).toEqual(EXPECTED_LEDGER);
    expect((await client.query('SELECT target, epoch::int FROM sync_targets ORDER BY id')).rows).toEqual([
      { target: T1, epoch: 2 },
      { target: T2, epoch: 0 },
    ]);
    expect((await client.query('SELECT id, status, finished_at::int FROM sync_batches ORDER BY id')).rows).toEqual([
      { id: 'b-1', status: 'acked', finished_at: null },
      { id: 'b-2', status: 'abandoned', finished_at: 20 },
    ]);
    const tables = (await client.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).rows.map((t) => t.tablename as string);
    expect(tables).toEqual(expect.arrayContaining(['sync_batch_keys', 'sync_batch_chunks', 'sync_view']));
    expect(tables).not.toContain('sync_batch_rows');
    expect(tables).not.toContain('sync_candidates');
  });
});
