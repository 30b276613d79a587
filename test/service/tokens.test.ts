import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
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
