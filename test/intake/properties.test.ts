import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { intakeText, intakeValue, NormalisedEvent, parseInstant } from '../../src/intake/index.js';
import { fixture, type Envelope, type FixtureName } from '../support/events.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** An instant written as Canvas might: any offset, any of the four offset forms, 0-9 fraction digits. */
const written = fc
  .record({
    // years 0001-9999: the range a four-digit year can write
    instant: fc.integer({ min: Date.UTC(1, 0, 1) + 86_400_000, max: Date.UTC(9999, 11, 30) }),
    offsetHours: fc.integer({ min: -23, max: 23 }),
    offsetMinutes: fc.integer({ min: 0, max: 59 }),
    form: fc.constantFrom('Z', 'HH:MM', 'HHMM', 'HH'),
    fractionDigits: fc.integer({ min: 0, max: 9 }),
    extraDigits: fc.stringMatching(/^[0-9]{6}$/),
  })
  .map(({ instant, offsetHours, offsetMinutes, form, fractionDigits, extraDigits }) => {
    const minutes = form === 'Z' ? 0 : form === 'HH' ? offsetHours * 60 : Math.sign(offsetHours || 1) * (Math.abs(offsetHours) * 60 + offsetMinutes);
    const local = new Date(instant + minutes * 60_000);
    const ms = local.getUTCMilliseconds();
    const digits = (pad(ms, 3) + extraDigits).slice(0, fractionDigits);
    // fewer than three digits write a truncated instant
    const expected = instant - ms + (fractionDigits >= 3 ? ms : Number(digits.padEnd(3, '0')));
    const sign = minutes < 0 ? '-' : '+';
    const abs = Math.abs(minutes);
    const offset =
      form === 'Z' ? 'Z'
      : form === 'HH' ? `${sign}${pad(abs / 60, 2)}`
      : `${sign}${pad(Math.floor(abs / 60), 2)}${form === 'HH:MM' ? ':' : ''}${pad(abs % 60, 2)}`;
    const text =
      `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1, 2)}-${pad(local.getUTCDate(), 2)}` +
      `T${pad(local.getUTCHours(), 2)}:${pad(local.getUTCMinutes(), 2)}:${pad(local.getUTCSeconds(), 2)}` +
      `${fractionDigits > 0 ? `.${digits}` : ''}${offset}`;
    return { text, expected };
  });

describe('timestamp parser properties', () => {
  it('any instant written with any offset and fraction length parses to that instant', () => {
    fc.assert(
      fc.property(written, ({ text, expected }) => {
        expect(parseInstant(text, 't')).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it('gives the same instant as luxon for every string it accepts', () => {
    fc.assert(
      fc.property(written, ({ text }) => {
        const luxon = DateTime.fromISO(text, { setZone: true });
        expect(luxon.isValid).toBe(true);
        expect(parseInstant(text, 't')).toBe(luxon.toMillis());
      }),
      { numRuns: 5000 },
    );
  });

  it('whatever it is given, it returns an instant or throws an IntakeProblem', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,4})?([+-]\d\d:?\d\d|Z)?$/)), (text) => {
        try {
          expect(Number.isInteger(parseInstant(text, 't'))).toBe(true);
        } catch (err) {
          expect((err as Error).name).toBe('IntakeProblem');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** Random damage to a valid event: what a broken producer, a bad bridge or a hostile sender may send. */
const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53 + 1, 2 ** 64, -1, 1e300, -0, 0.5),
  fc.string(),
  fc.constantFrom('', '1e400', 'NaN', '2019-11-01T19:11:05', '99999999999999999999', '0x10', ' 5'),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);

type Mutation = { part: 'metadata' | 'body'; key: string; action: 'drop' | 'set'; value: unknown };

function mutations(e: Envelope): fc.Arbitrary<Mutation[]> {
  const keys = [
    ...Object.keys(e.metadata).map((key) => ({ part: 'metadata' as const, key })),
    ...Object.keys(e.body).map((key) => ({ part: 'body' as const, key })),
  ];
  return fc.array(
    fc.record({
      target: fc.constantFrom(...keys),
      action: fc.constantFrom('drop' as const, 'set' as const),
      value: junk,
    }).map(({ target, action, value }) => ({ ...target, action, value })),
    { minLength: 1, maxLength: 4 },
  );
}

describe('intake never throws', () => {
  for (const name of ['grade_change', 'course_grade_change', 'grade_override'] as FixtureName[]) {
    it(`mutated ${name} events become valid, ignored or quarantined`, () => {
      const base = fixture(name);
      fc.assert(
        fc.property(mutations(base), (muts) => {
          const e = structuredClone(base);
          for (const m of muts) {
            if (m.action === 'drop') delete e[m.part][m.key];
            else e[m.part][m.key] = m.value;
          }
          for (const verdict of [intakeText(JSON.stringify(e)), intakeValue(e)]) {
            expect(['valid', 'ignored', 'quarantined']).toContain(verdict.outcome);
            if (verdict.outcome === 'valid') expect(() => NormalisedEvent.parse(verdict.record)).not.toThrow();
            if (verdict.outcome === 'quarantined') expect(verdict.detail.length).toBeGreaterThan(0);
          }
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('truncated and arbitrary texts are quarantined, never thrown', () => {
    const text = JSON.stringify(fixture('grade_change'));
    fc.assert(
      fc.property(fc.oneof(fc.nat({ max: text.length - 1 }).map((n) => text.slice(0, n)), fc.string(), fc.json()), (t) => {
        const v = intakeText(t);
        expect(['ignored', 'quarantined', 'valid']).toContain(v.outcome);
      }),
      { numRuns: 2000 },
    );
  });
});
