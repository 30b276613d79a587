import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

/**
 * API tokens (SPEC §7.3): a YAML or JSON list of `{name, role, token}`, usually mounted from a Secret.
 * `token` is the secret itself or `sha256:HEX` of it; only digests are kept in memory, and a presented
 * token is compared digest to digest in constant time.
 */
const TokenEntry = z.object({
  name: z.string().trim().min(1),
  role: z.enum(['viewer', 'admin']),
  token: z.string().min(1),
});
export type Role = z.infer<typeof TokenEntry>['role'];

export interface Principal {
  name: string;
  role: Role;
}

interface Known extends Principal {
  digest: Buffer;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export class Tokens {
  private readonly key: Buffer;

  private constructor(private readonly known: readonly Known[]) {
    // The session-signing key derives from the tokens: every replica given the same Secret agrees, and
    // changing the tokens file ends every session.
    this.key = createHash('sha256').update('gradestream-session').update(Buffer.concat(known.map((k) => k.digest))).digest();
  }

  static parse(text: string, source = 'tokens file'): Tokens {
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch (err) {
      throw new ConfigError([`${source}: not YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
    }
    const parsed = z.array(TokenEntry).safeParse(value);
    if (!parsed.success) {
      throw new ConfigError(parsed.error.issues.map((i) => `${source}: entry ${i.path.join('.') || '(root)'}: ${i.message}`));
    }
    const problems: string[] = [];
    const names = new Set<string>();
    const known = parsed.data.map((entry, i) => {
      if (names.has(entry.name)) problems.push(`${source}: entry ${i}: duplicate name ${JSON.stringify(entry.name)}`);
      names.add(entry.name);
      const hashed = /^sha256:([0-9a-fA-F]{64})$/.exec(entry.token);
      if (entry.token.startsWith('sha256:') && !hashed) problems.push(`${source}: entry ${i} (${entry.name}): sha256: needs 64 hex digits`);
      return { name: entry.name, role: entry.role, digest: hashed ? Buffer.from(hashed[1]!, 'hex') : sha256(entry.token) };
    });
    if (problems.length > 0) throw new ConfigError(problems);
    return new Tokens(known);
  }

  static async load(path: string): Promise<Tokens> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError([`GRADESTREAM_ADMIN_TOKENS_FILE: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
    }
    return Tokens.parse(text, path);
  }

  static empty(): Tokens {
    return new Tokens([]);
  }

  get size(): number {
    return this.known.length;
  }

  /** The holder of a presented token, or undefined. Every entry is compared, so timing says nothing. */
  verify(token: string): Principal | undefined {
    const digest = sha256(token);
    let found: Known | undefined;
    for (const k of this.known) if (timingSafeEqual(k.digest, digest)) found = k;
    return found && { name: found.name, role: found.role };
  }

  /** A session cookie value for `who`, valid until `expiresAt` (ms): name, role and expiry, HMAC-signed. */
  session(who: Principal, expiresAt: number): string {
    const payload = Buffer.from(JSON.stringify([who.name, who.role, expiresAt])).toString('base64url');
    return `${payload}.${createHmac('sha256', this.key).update(payload).digest('base64url')}`;
  }

  /** The holder of a session cookie value, if its signature holds, it has not expired and its name still exists. */
  verifySession(value: string, now = Date.now()): Principal | undefined {
    const [payload, mac] = value.split('.');
    if (!payload || !mac) return undefined;
    const expected = createHmac('sha256', this.key).update(payload).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const [name, role, expiresAt] = JSON.parse(Buffer.from(payload, 'base64url').toString()) as [string, Role, number];
      if (!(expiresAt > now)) return undefined;
      const known = this.known.find((k) => k.name === name && k.role === role);
      return known && { name, role };
    } catch {
      return undefined;
    }
  }
}
