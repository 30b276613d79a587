import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { connectionOf, type StoreConnection } from '../state/connection.js';
import type { StateStore } from '../state/store.js';
import { SESSION_TTL_MS } from './limits.js';
import type { Identified, Tokens } from './tokens.js';

/**
 * Admin page sessions, kept in the state store (SQLite migration 6, PostgreSQL migration 4) so that
 * every replica on one store shares them and signing out ends one everywhere.
 *
 * - The cookie is `ID.MAC`: 32 random bytes and their HMAC under a key derived from the session secret
 *   (GRADESTREAM_SESSION_SECRET, or 32 random bytes generated once and kept in the store). A cookie whose
 *   MAC fails is refused without a store lookup; the store keeps SHA-256(ID), never the ID.
 * - A session holds while its row exists, has not expired and the tokens file still has the digest of the
 *   token it was signed in with: sign-out deletes the row, removing the token ends it.
 * - Its CSRF token is an HMAC of its ID under another derived key: bound to the session, nothing kept.
 */
export interface Session {
  /** The cookie's ID part (base64url): what the CSRF token is bound to. */
  id: string;
  who: Identified;
  /** The token every state-changing form of this session carries. */
  csrf: string;
}

interface SessionRow {
  tokenDigest: Buffer;
  expiresAt: number;
}

/** The two tables, on either backend. */
interface Rows {
  /** The stored secret, inserting `fresh` if there is none (several replicas at once agree on one). */
  secret(fresh: Buffer, now: number): Promise<Buffer>;
  insert(idHash: Buffer, tokenDigest: Buffer, now: number, expiresAt: number): Promise<void>;
  find(idHash: Buffer): Promise<SessionRow | undefined>;
  remove(idHash: Buffer): Promise<void>;
  removeExpired(now: number): Promise<number>;
}

function rowsOf(connection: StoreConnection): Rows {
  if (connection.kind === 'sqlite') {
    // The main connection: small writes, as the sync store's (the fold writes on its own thread).
    const { db } = connection;
    return {
      async secret(fresh, now) {
        db.prepare(`INSERT INTO service_secrets (name, value, created_at) VALUES ('session', ?, ?) ON CONFLICT (name) DO NOTHING`).run(fresh, BigInt(now));
        return db.prepare(`SELECT value FROM service_secrets WHERE name = 'session'`).pluck().get() as Buffer;
      },
      async insert(idHash, tokenDigest, now, expiresAt) {
        db.prepare('INSERT INTO admin_sessions (id_hash, token_digest, created_at, expires_at) VALUES (?, ?, ?, ?)').run(idHash, tokenDigest, BigInt(now), BigInt(expiresAt));
      },
      async find(idHash) {
        const row = db.prepare('SELECT token_digest, expires_at FROM admin_sessions WHERE id_hash = ?').get(idHash) as
          | { token_digest: Buffer; expires_at: bigint }
          | undefined;
        return row && { tokenDigest: row.token_digest, expiresAt: Number(row.expires_at) };
      },
      async remove(idHash) {
        db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?').run(idHash);
      },
      async removeExpired(now) {
        return db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(BigInt(now)).changes;
      },
    };
  }
  const { pool } = connection;
  return {
    async secret(fresh, now) {
      await pool.query(`INSERT INTO service_secrets (name, value, created_at) VALUES ('session', $1, $2) ON CONFLICT (name) DO NOTHING`, [fresh, now]);
      return (await pool.query<{ value: Buffer }>(`SELECT value FROM service_secrets WHERE name = 'session'`)).rows[0]!.value;
    },
    async insert(idHash, tokenDigest, now, expiresAt) {
      await pool.query('INSERT INTO admin_sessions (id_hash, token_digest, created_at, expires_at) VALUES ($1, $2, $3, $4)', [idHash, tokenDigest, now, expiresAt]);
    },
    async find(idHash) {
      const { rows } = await pool.query<{ token_digest: Buffer; expires_at: string }>('SELECT token_digest, expires_at FROM admin_sessions WHERE id_hash = $1', [idHash]);
      return rows[0] && { tokenDigest: rows[0].token_digest, expiresAt: Number(rows[0].expires_at) };
    },
    async remove(idHash) {
      await pool.query('DELETE FROM admin_sessions WHERE id_hash = $1', [idHash]);
    },
    async removeExpired(now) {
      return (await pool.query('DELETE FROM admin_sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
    },
  };
}

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: string): Buffer => createHash('sha256').update(data).digest();
/** 32 bytes in base64url: a session id, a MAC, a CSRF token. */
const B64_32 = /^[A-Za-z0-9_-]{43}$/;

/** Whether `given` is `expected` in base64url (canonical form only), compared in constant time. */
function sameBytes(given: string, expected: Buffer): boolean {
  if (!B64_32.test(given)) return false;
  const bytes = Buffer.from(given, 'base64url');
  return bytes.length === expected.length && timingSafeEqual(bytes, expected) && bytes.toString('base64url') === given;
}

export class Sessions {
  private constructor(
    private readonly rows: Rows,
    private readonly cookieKey: Buffer,
    private readonly csrfKey: Buffer,
    readonly ttlMs: number,
  ) {}

  /**
   * The sessions of a store. `secret` is GRADESTREAM_SESSION_SECRET; without it, the secret the store
   * keeps is used, generated by whichever process needs it first.
   */
  static async open(store: StateStore, options: { secret?: string; ttlMs?: number; now?: number } = {}): Promise<Sessions> {
    const rows = rowsOf(connectionOf(store));
    const secret = options.secret !== undefined ? Buffer.from(options.secret, 'utf8') : await rows.secret(randomBytes(32), options.now ?? Date.now());
    const key = (purpose: string) => createHmac('sha256', secret).update(`gradestream ${purpose} v1`).digest();
    return new Sessions(rows, key('session cookie'), key('csrf token'), options.ttlMs ?? SESSION_TTL_MS);
  }

  /** A new session for the holder of a token: its cookie value. Expired sessions are removed first. */
  async create(who: Identified, now = Date.now()): Promise<string> {
    await this.rows.removeExpired(now);
    const id = randomBytes(32).toString('base64url');
    await this.rows.insert(sha256(id), who.digest, now, now + this.ttlMs);
    return `${id}.${hmac(this.cookieKey, id).toString('base64url')}`;
  }

  /** The session of a cookie value, if it is signed, in the store, unexpired and its token still in `tokens`. */
  async resolve(cookie: string, tokens: Tokens, now = Date.now()): Promise<Session | undefined> {
    const id = this.idOf(cookie);
    if (id === undefined) return undefined;
    const row = await this.rows.find(sha256(id));
    if (row === undefined || !(row.expiresAt > now)) return undefined;
    const who = tokens.holderOf(row.tokenDigest);
    return who && { id, who, csrf: this.csrfOf(id) };
  }

  /** Ends the session of a cookie value (sign-out); nothing for a cookie that is not signed. */
  async end(cookie: string): Promise<void> {
    const id = this.idOf(cookie);
    if (id !== undefined) await this.rows.remove(sha256(id));
  }

  /** Removes the sessions expired by `now`; answers how many. */
  clean(now = Date.now()): Promise<number> {
    return this.rows.removeExpired(now);
  }

  /** Whether `given` is the CSRF token of the session (constant time). */
  csrfValid(session: Session, given: unknown): boolean {
    return typeof given === 'string' && sameBytes(given, hmac(this.csrfKey, session.id));
  }

  private csrfOf(id: string): string {
    return hmac(this.csrfKey, id).toString('base64url');
  }

  /** The ID of a cookie value whose MAC holds, else undefined. */
  private idOf(cookie: string): string | undefined {
    const dot = cookie.indexOf('.');
    const id = cookie.slice(0, dot);
    if (dot < 0 || !B64_32.test(id)) return undefined;
    return sameBytes(cookie.slice(dot + 1), hmac(this.cookieKey, id)) ? id : undefined;
  }
}
