import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL server of the integration tests. Started by `bash scripts/services.sh up postgres`
 * (then `eval "$(bash scripts/services.sh env)"`); never skipped: a missing server fails the tests.
 */
export function postgresUrl(): string {
  const url = process.env['GRADESTREAM_TEST_POSTGRES_URL'];
  if (url === undefined || url === '') {
    throw new Error(
      'GRADESTREAM_TEST_POSTGRES_URL is not set: start PostgreSQL with `bash scripts/services.sh up postgres` ' +
        'and `eval "$(bash scripts/services.sh env)"` (npm test does both)',
    );
  }
  return url;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, uniquely named database on the test server; `drop()` removes it (and its connections). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = postgresUrl();
  const name = `gradestream_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(admin, (c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => withAdmin(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

async function withAdmin<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Empties every table of a store's database except the migrations (fresh state, same schema). */
export async function truncateAll(url: string): Promise<void> {
  await withAdmin(url, async (c) => {
    const tables = await c.query<{ tablename: string }>(
      `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`,
    );
    if (tables.rows.length > 0) await c.query(`TRUNCATE ${tables.rows.map((t) => t.tablename).join(', ')}`);
  });
}
