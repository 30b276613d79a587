import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type StateStore } from '../../src/state/store.js';
import { createTestDatabase } from './postgres.js';

/** A state store of one backend on fresh, private storage. */
export interface TestStore {
  url: string;
  store: StateStore;
  /** closes the store (the one `store` holds now: a test may reopen it) and removes its storage */
  cleanup(): Promise<void>;
}

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** fresh storage: a URL nothing has used yet, and how to remove it */
  storage(): Promise<{ url: string; remove(): Promise<void> }>;
}

export const sqlite: Backend = {
  name: 'sqlite',
  async storage() {
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-state-'));
    return { url: `sqlite:${join(dir, 'state', 'gradestream.db')}`, remove: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

export const postgres: Backend = {
  name: 'postgres',
  async storage() {
    const db = await createTestDatabase();
    return { url: db.url, remove: db.drop };
  },
};

export const backends: readonly Backend[] = [sqlite, postgres];

export async function openTestStore(backend: Backend): Promise<TestStore> {
  const { url, remove } = await backend.storage();
  const t: TestStore = {
    url,
    store: await openStore(url),
    cleanup: async () => {
      await t.store.close();
      await remove();
    },
  };
  return t;
}
