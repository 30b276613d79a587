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

  it('signs sessions that expire, resist tampering and end when the tokens change', () => {
    const cookie = tokens.session({ name: 'vic', role: 'viewer' }, 2_000);
    expect(tokens.verifySession(cookie, 1_000)).toEqual({ name: 'vic', role: 'viewer' });
    expect(tokens.verifySession(cookie, 2_000)).toBeUndefined();
    const [payload, mac] = cookie.split('.');
    const forged = Buffer.from(JSON.stringify(['vic', 'admin', 2_000])).toString('base64url');
    expect(tokens.verifySession(`${forged}.${mac}`, 1_000)).toBeUndefined();
    expect(tokens.verifySession(`${payload}.`, 1_000)).toBeUndefined();
    const rotated = Tokens.parse('- {name: vic, role: viewer, token: new-one}');
    expect(rotated.verifySession(cookie, 1_000)).toBeUndefined();
  });
});
