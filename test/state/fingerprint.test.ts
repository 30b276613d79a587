import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CourseGradeChangeRecord, GradeChangeRecord, GradeOverrideRecord, type NormalisedEvent } from '../../src/intake/records.js';
import { canonicalJson, fingerprint } from '../../src/state/fingerprint.js';
import { courseGradeChange, gradeChange, gradeOverride, record } from '../support/grades.js';

/**
 * Fingerprints are stored and order equal instants, so they may never change from one version to the
 * next. The fast canonical JSON must give exactly the text of the plain definition, whatever the values.
 */
const SHAPES = { grade_change: GradeChangeRecord, course_grade_change: CourseGradeChangeRecord, grade_override: GradeOverrideRecord };

function reference(r: NormalisedEvent): string {
  const values = r as unknown as Record<string, unknown>;
  // assignment_name is left out: a name, not a grade (and not in the fingerprints stored before it).
  const fields = Object.keys(SHAPES[r.kind].shape).filter((f) => f !== 'assignment_name').sort();
  return `{${fields.map((f) => `${JSON.stringify(f)}:${JSON.stringify(values[f] ?? null)}`).join(',')}}`;
}

const base = [
  record(gradeChange('2020-01-02T00:00:00Z', { score: 4 })),
  record(courseGradeChange('2020-01-02T00:00:00.123+02:00')),
  record(gradeOverride('2020-01-02T00:00:00Z', { override_score: 91.5 })),
];

const value = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(), // NaN, ±Infinity, -0 included
  fc.integer(),
  fc.string({ unit: 'grapheme' }),
  // what JSON.stringify escapes (quotes, backslashes, control characters, lone surrogates) and its neighbours
  fc.string({
    unit: fc.constantFrom('"', '\\', '\u0000', '\n', '\u001f', ' ', '!', '#', '[', ']', '\u007f', 'a', '0', 'é', '\u2028',
      '\ud7ff', '\ud800', '\udbff', '\udc00', '\udfff', '\ue000', '\uffff', '\ud83d\ude00'),
  }),
  fc.stringMatching(/^[0-9]{1,19}$/),
);

describe('fingerprint', () => {
  it('is sha256 of the plain canonical JSON, for any field values', () => {
    fc.assert(
      fc.property(fc.constantFrom(...base), fc.dictionary(fc.constantFrom(...new Set(base.flatMap(Object.keys))), value), (r, changes) => {
        const changed = { ...r, ...changes, kind: r.kind } as NormalisedEvent;
        const text = reference(changed);
        expect(canonicalJson(changed)).toBe(text);
        expect(fingerprint(changed)).toBe(createHash('sha256').update(text).digest('hex'));
      }),
      { numRuns: 2000 },
    );
  });

  it('has not changed for the documentation examples', () => {
    expect(base.map(fingerprint)).toEqual([
      '15b74968da5c4c1cb833ad1dde84599f6a70d3e3afe0f88336f07b3fdbd2dcb3',
      'bcd448173ba0995e529389cdb7f59a0d7b2b7de276a55e4945a1494d6ac90cc9',
      '975b929a113a849fdad674a8e276dbad3a1ea4b8dcfad83cb03060a9dccf7038',
    ]);
    // An assignment's name (added later) leaves a grade's fingerprint as it was.
    const named = record(gradeChange('2020-01-02T00:00:00Z', { score: 4, assignment_name: 'Essay 1' }));
    expect(named).toMatchObject({ assignment_name: 'Essay 1' });
    expect(fingerprint(named)).toBe('15b74968da5c4c1cb833ad1dde84599f6a70d3e3afe0f88336f07b3fdbd2dcb3');
  });
});
