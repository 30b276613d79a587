import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { Tokens } from '../../src/service/tokens.js';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

describe('Tokens', () => {
  const tokens = Tokens.parse(`
- {name: ada, role: admin, token: "open-sesame"}
- {name: vic, role: viewer, token: "sha256:${hex('just-looking')}"}
`);

  it('verifies plain and sha256: tokens, and refuses others', () => {
    expect(tokens.verify('open-sesame')).toEqual({ name: 'ada', role: 'admin' });
    expect(tokens.verify('just-looking')).toEqual({ name: 'vic', role: 'viewer' });
    expect(tokens.verify(`sha256:${hex('just-looking')}`)).toBeUndefined();
    expect(tokens.verify('open-sesam')).toBeUndefined();
  });

  it('reads JSON too', () => {
    expect(Tokens.parse('[{"name":"x","role":"admin","token":"t"}]').verify('t')).toEqual({ name: 'x', role: 'admin' });
  });

  it('lists every problem of a bad file', () => {
    try {
      Tokens.parse(`
- {name: a, role: root, token: x}
- {name: b, role: admin, token: "sha256:abc"}
`);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toMatch(/entry 0\.role/);
    }
    expect(() => Tokens.parse('- {name: b, role: admin, token: "sha256:abc"}\n- {name: b, role: viewer, token: y}')).toThrow(/64 hex digits.*|duplicate name/);
  });

  it('finds the holder of a digest while the file has it, and derives nothing from the file', () => {
    const ada = tokens.identify('open-sesame')!;
    expect(ada).toMatchObject({ name: 'ada', role: 'admin' });
    expect(ada.digest.toString('hex')).toBe(hex('open-sesame'));
    expect(tokens.holderOf(Buffer.from(hex('just-looking'), 'hex'))).toMatchObject({ name: 'vic', role: 'viewer' });
    const rotated = Tokens.parse('- {name: vic, role: viewer, token: new-one}');
    expect(rotated.holderOf(ada.digest)).toBeUndefined();
    expect(tokens.holderOf(Buffer.alloc(3))).toBeUndefined();
    // Sessions are not signed with anything the tokens file holds (the key that was derived from its
    // digests made cookies forgeable by anyone who could read the file): Tokens has no session API.
    expect('session' in tokens || 'verifySession' in tokens).toBe(false);
  });
});

describe('Tokens.watch', () => {
  it('reads the file again when it changes: a removed token stops working; a broken file keeps the tokens in force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradestream-tokens-'));
    const path = join(dir, 'tokens.yaml');
    // Replaced as Kubernetes updates a mounted Secret: a new file renamed over the old.
    const replace = (text: string) => {
      writeFileSync(join(dir, 'next'), text);
      renameSync(join(dir, 'next'), path);
    };
    replace('- {name: ada, role: admin, token: "open-sesame"}\n- {name: vic, role: viewer, token: "just-looking"}\n');
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const tokens = await Tokens.load(path);
    const stop = tokens.watch(path, log, 20);
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(what()).toBe(true);
    };
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(tokens.verify('open-sesame')?.name).toBe('ada');
      replace('- {name: vic, role: viewer, token: "just-looking"}\n');
      await until(() => tokens.verify('open-sesame') === undefined);
      expect(tokens.verify('just-looking')?.name).toBe('vic');
      expect(lines.some((l) => l.includes('admin tokens file changed'))).toBe(true);
      replace('- {name: vic, role: nobody}\n');
      await until(() => lines.some((l) => l.includes('cannot be read again')));
      expect(tokens.verify('just-looking')?.name).toBe('vic');
      expect(lines.join('')).not.toContain('just-looking');
    } finally {
      stop();
    }
  });
});
