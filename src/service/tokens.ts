import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * API tokens (SPEC §7.3): a YAML or JSON list of `{name, role, token}`, usually mounted from a Secret.
 * `token` is the secret itself or `sha256:HEX` of it; only digests are kept in memory, and a presented
 * token is compared digest to digest in constant time. The file holds no secret when it holds digests
 * only: nothing is derived from it (admin page sessions are keyed by a secret of their own,
 * src/service/sessions.ts).
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

/** A token's holder and the token's digest (what a session keeps: the session ends when the digest leaves the file). */
export interface Identified extends Principal {
  digest: Buffer;
}

export class Tokens {
  private constructor(private known: readonly Known[]) {}

  /**
   * Reads the file again whenever it changes (a Secret updated in place, as Kubernetes does), checked
   * every `everyMs`: a token removed stops working, and the sessions signed in with it end, without a
   * restart. A file that no longer reads or parses is logged, and the tokens in force are kept.
   * Returns the function that stops watching.
   */
  watch(path: string, log: Logger, everyMs = 10_000): () => void {
    let seen: string | undefined;
    let checking = false;
    const check = async () => {
      if (checking) return;
      checking = true;
      try {
        const s = await stat(path);
        const version = `${s.ino}:${s.size}:${s.mtimeMs}`;
        if (seen !== undefined && version !== seen) {
          this.known = Tokens.parse(await readFile(path, 'utf8'), path).known;
          log.info({ tokens: this.known.length }, 'admin tokens file changed: read again');
        }
        seen = version;
      } catch (err) {
        log.error({ err: err instanceof ConfigError ? err.problems.join('; ') : String(err) }, 'admin tokens file cannot be read again: the tokens in force are kept');
      } finally {
        checking = false;
      }
    };
    void check();
    const timer = setInterval(() => void check(), everyMs);
    timer.unref();
    return () => clearInterval(timer);
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
    const found = this.identify(token);
    return found && { name: found.name, role: found.role };
  }

  /** The holder of a presented token with its digest, or undefined. */
  identify(token: string): Identified | undefined {
    return this.holderOf(sha256(token));
  }

  /** The holder of the token with this digest, if the file still has it. Every entry is compared. */
  holderOf(digest: Buffer): Identified | undefined {
    if (digest.length !== 32) return undefined;
    let found: Known | undefined;
    for (const k of this.known) if (timingSafeEqual(k.digest, digest)) found = k;
    return found && { name: found.name, role: found.role, digest: found.digest };
  }
}
