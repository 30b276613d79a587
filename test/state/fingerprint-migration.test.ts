import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { intakeText, type NormalisedEvent } from '../../src/intake/index.js';
import { openStore } from '../../src/state/store.js';
import { SQLITE_MIGRATIONS } from '../../src/state/sqlite-migrations.js';
import { TABLES } from '../../src/state/tables.js';
import { eventLines } from '../support/grades.js';
import { sqliteAtVersion } from '../support/sqlite-versions.js';

/**
 * Migration 4 (SQLite): fingerprints stored as their 32 bytes instead of 64 hex digits. A store folded
 * under migration 3 holds the same state after it, byte for byte in the dump, its indexes are back,
 * and the fold still tells a repeat from a new event.
 */

const records = (): NormalisedEvent[] =>
  eventLines(300).flatMap((line) => {
    const v = intakeText(line);
    return v.outcome === 'valid' ? [v.record] : [];
  });

describe('migration 4 (fingerprints as bytes)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps every row and version, and the fold goes on as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-migration4-'));
    dirs.push(dir);
    const events = records();
    expect(events.length).toBeGreaterThan(100);

    // The state as the current schema holds it.
    const current = await openStore(`sqlite:${join(dir, 'current.db')}`);
    await current.apply({ records: events, quarantine: [] });
    const expected = await current.dump();
    const again = await current.apply({ records: events, quarantine: [] }); // every one a repeat or stale now
    expect(again).toContain('duplicate');
    await current.close();

    // The same rows in a version-3 store: fingerprints as hex text.
    const oldPath = join(dir, 'v3.db');
    const db = sqliteAtVersion(oldPath, 3);
    db.exec(`ATTACH DATABASE '${join(dir, 'current.db')}' AS cur`);
    // The state tables a version-3 store has (later migrations add more).
    const existing = new Set(db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).pluck().all());
    for (const t of TABLES.filter((x) => existing.has(x.name))) {
      const cols = [...t.key, ...t.values].map((c) => c.name);
      db.exec(`INSERT INTO main.${t.name} (${[...cols, 'instant', 'fp', 'seq'].join(', ')})
               SELECT ${[...cols, 'instant', 'lower(hex(fp))', 'seq'].join(', ')} FROM cur.${t.name}`);
    }
    db.exec(`UPDATE main.meta SET value = (SELECT value FROM cur.meta WHERE name = 'change_seq') WHERE name = 'change_seq'`);
    expect((db.prepare('SELECT typeof(fp) FROM assignment_scores LIMIT 1').pluck().get() as string)).toBe('text');
    db.exec('DETACH DATABASE cur');
    const indexes = () => db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all();
    const before = indexes();
    db.close();

    const migrated = await openStore(`sqlite:${oldPath}`);
    try {
      expect(await migrated.dump()).toBe(expected);
      expect(await migrated.apply({ records: events, quarantine: [] })).toEqual(again);
      const later = { ...events[0]!, instant: Math.max(...events.map((e) => e.instant)) + 1 };
      expect(await migrated.apply({ records: [later], quarantine: [] })).toEqual(['applied']);
    } finally {
      await migrated.close();
    }
    const after = new Database(oldPath, { readonly: true });
    try {
      expect(after.prepare('SELECT DISTINCT typeof(fp) FROM assignment_scores').pluck().all()).toEqual(['blob']);
      expect(after.prepare('SELECT max(version) FROM schema_migrations').pluck().get()).toBe(SQLITE_MIGRATIONS.at(-1)!.version);
      // Every index of the rebuilt tables is there again (later migrations add their own).
      expect(after.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all()).toEqual(expect.arrayContaining(before));
    } finally {
      after.close();
    }
  });
});
