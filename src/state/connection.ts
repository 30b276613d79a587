import type Database from 'better-sqlite3';
import type pg from 'pg';

/**
 * What the sync engine (src/sync/) shares with the state store it was opened on: the same SQLite
 * connection or PostgreSQL pool, so its tables live in the same database and its transactions see the
 * fold's rows. Reached through a symbol so that it stays off the StateStore interface the rest of the
 * code uses.
 */
export const CONNECTION: unique symbol = Symbol('gradestream.state.connection');

export type StoreConnection =
  | { kind: 'sqlite'; db: Database.Database }
  | {
      kind: 'postgres';
      pool: pg.Pool;
      /** The store's URL without its password, for messages. */
      shownUrl: string;
    };

export interface HasConnection {
  readonly [CONNECTION]: StoreConnection;
}

export function connectionOf(store: object): StoreConnection {
  const connection = (store as Partial<HasConnection>)[CONNECTION];
  if (connection === undefined) throw new TypeError('this state store has no shared connection (not a gradestream backend)');
  return connection;
}
