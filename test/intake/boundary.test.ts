import { describe, expect, it } from 'vitest';
import { intakeBytes, intakeText, type Verdict } from '../../src/intake/index.js';
import { keyCount } from '../../src/intake/keys.js';
import { firstInvalidUtf8 } from '../../src/intake/utf8.js';
import { fixtureText, variant } from '../support/events.js';

/** Issue 13: inputs that used to throw out of intake, bytes that were repaired, clocks that pinned a key. */

const deep = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);
const withScore = (raw: string) => fixtureText('grade_change').replace('"score":5', `"score":${raw}`);
const quarantined = (v: Verdict) => {
  if (v.outcome !== 'quarantined') throw new Error(`expected quarantined, got ${JSON.stringify(v)}`);
  return v;
};

describe('intake never throws', () => {
  it('a score nested 5,000 deep is quarantined with a short detail (it used to overflow the stack)', () => {
    expect(fixtureText('grade_change')).toContain('"score":5');
    const v = quarantined(intakeText(withScore(deep(5000))));
    expect(v.reason).toBe('invalid_field');
    expect(v.detail).toMatch(/^body\.score: \[\[\[.*is not a finite number$/);
    expect(v.detail.length).toBeLessThan(200);
  });

  it('an object nested 100,000 deep in a field that is read, or in one that is not', () => {
    const nested = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    expect(quarantined(intakeText(fixtureText('grade_change').replace('"grade":"5"', `"grade":${nested}`))).detail).toMatch(/^body\.grade: \{"a":\{"a":\{"a":\{…\}\}\}\} is not a grade$/);
    // Nothing reads an unknown key: the event is valid, and nothing recursed over it.
    expect(intakeText(fixtureText('grade_change').replace('"body":{', `"body":{"extra":${nested},`)).outcome).toBe('valid');
  });

  it('a megabyte string is shown cut, not copied whole into the detail', () => {
    const v = quarantined(intakeText(withScore(JSON.stringify('x'.repeat(1 << 20)))));
    expect(v.detail.length).toBeLessThan(200);
  });

  it('an array of a million entries is shown cut', () => {
    const v = quarantined(intakeText(withScore(`[${Array.from({ length: 1_000_000 }, () => 1).join(',')}]`)));
    expect(v.detail).toMatch(/^body\.score: \[1,1,1.*\.\.\. is not a finite number$/);
  });

  it('a key named like an Object.prototype member is data, not a property lookup', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty']) {
      const text = fixtureText('grade_change').replace('"body":{', `"body":{"${key}":{"x":1},`).replace('"metadata":{', `"metadata":{"${key}":[1],`);
      expect(intakeText(text).outcome, key).toBe('valid');
    }
    expect(quarantined(intakeText('{"__proto__":{"metadata":{},"body":{}}}')).reason).toBe('not_an_event');
    expect(intakeText('{"metadata":{"event_name":"toString"},"body":{}}')).toEqual({ outcome: 'ignored', eventName: 'toString' });
  });
});

describe('exact bytes (invalid_utf8)', () => {
  const valid = Buffer.from(fixtureText('grade_change'));

  it('valid UTF-8 bytes read like their text', () => {
    expect(intakeBytes(valid)).toEqual(intakeText(fixtureText('grade_change')));
  });

  it.each<[string, number[]]>([
    ['a lone continuation byte', [0x80]],
    ['an overlong slash (c0 af)', [0xc0, 0xaf]],
    ['a truncated three-byte sequence', [0xe0, 0xa4]],
    ['a UTF-16 surrogate encoded in UTF-8', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['Latin-1 é', [0xe9]],
  ])('%s in a grade is quarantined as invalid_utf8, naming the byte', (_label, bad) => {
    const text = fixtureText('grade_change');
    const at = Buffer.byteLength(text.slice(0, text.indexOf('"grade":"5"') + 9));
    const bytes = Buffer.concat([valid.subarray(0, at), Buffer.from(bad), valid.subarray(at)]);
    const v = quarantined(intakeBytes(bytes));
    expect(v.reason).toBe('invalid_utf8');
    expect(v.detail).toMatch(new RegExp(`^byte ${at} is not valid UTF-8 \\(${bad.slice(0, 4).map((b) => b.toString(16).padStart(2, '0')).join(' ')}`));
  });

  it('firstInvalidUtf8 agrees with Node on which buffers are UTF-8', () => {
    const samples = [[0x41], [0xc2, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xc1, 0x81], [0xf8], [0xef, 0xbf], [0xf0, 0x8f, 0xbf, 0xbf]];
    for (const s of samples) {
      const b = Buffer.from(s);
      expect(firstInvalidUtf8(b) === b.length, b.toString('hex')).toBe(Buffer.from(b.toString('utf8')).equals(b));
    }
  });

  it('a lone surrogate escape in an SIS id or a grade is invalid: it has no UTF-8 form', () => {
    const v = quarantined(intakeText(JSON.stringify(variant('grade_change', { body: { student_sis_id: 'ABC\ud800' } }))));
    expect(v).toMatchObject({ reason: 'invalid_field', detail: expect.stringMatching(/^body\.student_sis_id: .*lone surrogate/) });
    expect(quarantined(intakeText(JSON.stringify(variant('grade_change', { body: { grade: '\udc00A' } })))).reason).toBe('invalid_field');
    // A pair is a character like any other.
    expect(intakeText(JSON.stringify(variant('grade_change', { body: { grade: 'A\ud83d\ude00' } }))).outcome).toBe('valid');
  });
});

describe('future_timestamp', () => {
  const receivedAt = Date.parse('2026-12-01T12:00:00Z');
  const at = (eventTime: string, options = {}) =>
    intakeText(JSON.stringify(variant('grade_change', { metadata: { event_time: eventTime } })), { receivedAt, ...options });

  it('an event_time more than 24 h ahead of receipt is quarantined; up to 24 h is valid', () => {
    expect(at('2026-12-02T12:00:00Z').outcome).toBe('valid');
    const v = quarantined(at('2026-12-02T12:00:00.001Z'));
    expect(v.reason).toBe('future_timestamp');
    expect(v.detail).toBe('metadata.event_time: 2026-12-02T12:00:00.001Z is more than 86400 s after receipt (2026-12-01T12:00:00.000Z)');
    expect(quarantined(at('9999-01-01T00:00:00Z')).reason).toBe('future_timestamp');
  });

  it('the bound is configurable', () => {
    expect(at('2026-12-01T12:01:00Z', { maxFutureMs: 60_000 }).outcome).toBe('valid');
    expect(quarantined(at('2026-12-01T12:01:01Z', { maxFutureMs: 60_000 })).reason).toBe('future_timestamp');
  });

  it('a course event is refused for an updated_at far ahead too (it is the instant that orders)', () => {
    const e = variant('course_grade_change', { metadata: { event_time: '2026-12-01T11:00:00Z' }, body: { updated_at: '2030-01-01T00:00:00Z' } });
    expect(quarantined(intakeText(JSON.stringify(e), { receivedAt })).detail).toMatch(/^body\.updated_at: 2030-01-01T00:00:00\.000Z/);
  });
});

describe('a duplicated muted counts as unposted', () => {
  const posted = fixtureText('grade_change');
  const muted = (v: Verdict) => (v.outcome === 'valid' && v.record.kind === 'grade_change' ? v.record.muted : undefined);

  it('"muted":true,"muted":false is unposted, whichever comes last', () => {
    expect(posted).toContain('"muted":false');
    expect(muted(intakeText(posted))).toBe(false);
    expect(muted(intakeText(posted.replace('"muted":false', '"muted":true,"muted":false')))).toBe(true);
    expect(muted(intakeText(posted.replace('"muted":false', '"muted":false,"muted":false')))).toBe(true);
  });

  it('also when the second key is spelled with escapes', () => {
    expect(muted(intakeText(posted.replace('"muted":false', '"muted":true, "mut\\u0065d" :false')))).toBe(true);
    // Escapes elsewhere, and a value that reads "muted", change nothing.
    expect(muted(intakeText(posted.replace('"grade":"5"', '"grade":"\\u0035 \\"muted\\": x"')))).toBe(false);
    expect(muted(intakeText(posted.replace('"grade":"5"', '"grade":"muted"')))).toBe(false);
  });

  it('keyCount counts keys, not strings', () => {
    expect(keyCount('{"a":"muted","muted":1,"b":{"muted":2}}', 'muted')).toBe(2);
    expect(keyCount('{"a":"\\"muted\\":","x":1}', 'muted')).toBe(0);
    expect(keyCount('{"m\\u0075ted":1}', 'muted')).toBe(1);
  });
});
