import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from '../../src/state/sqlite-migrations.js';

/**
 * A new SQLite state file at schema `version`, as an older gradestream left it (migrations up to that
 * one applied and recorded), open for a migration test to fill before the store opens it.
 */
export function sqliteAtVersion(path: string, version: number): Database.Database {
  const db = new Database(path);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
  for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= version)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, '2026-01-01T00:00:00Z');
  }
  return db;
}
