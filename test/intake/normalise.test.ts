import { describe, expect, it } from 'vitest';
import { intakeText, intakeValue, type Verdict } from '../../src/intake/index.js';
import { fixture, variant, type Envelope, type FixtureName } from '../support/events.js';

const valid = (v: Verdict) => {
  if (v.outcome !== 'valid') throw new Error(`expected valid, got ${JSON.stringify(v)}`);
  return v.record as Record<string, unknown>;
};
const run = (e: Envelope) => intakeText(JSON.stringify(e));

describe('classification (SPEC §1.2)', () => {
  it.each([
    ['submission_created', { assignment_id: '1', submission_id: '2', user_id: '3' }],
    ['enrollment_updated', { enrollment_id: '44', course_id: '46', user_id: '45' }],
    // a named non-grade event is ignored even with an override-like body
    ['asset_accessed', { override_score: 1 }],
  ])('a look-alike %s is ignored, not folded', (name, body) => {
    expect(run({ metadata: { event_name: name }, body })).toEqual({ outcome: 'ignored', eventName: name });
  });

  it.each([
    ['course_grade_change', { old_override_score: 80, override_score: null }],
    ['grade_change', { override_score: 90 }],
  ])('event_name %s with an override key in the body is a grade_override', (name, body) => {
    const e = variant('grade_override', { metadata: { event_name: name }, body: Object.assign({ override_score: undefined, old_override_score: undefined }, body) });
    expect(run(e)).toMatchObject({ outcome: 'valid', kind: 'grade_override' });
  });

  it.each<[string, FixtureName, Record<string, unknown>]>([
    ['assignment_id + submission_id', 'grade_change', {}],
    ['course_id + user_id + a score', 'course_grade_change', {}],
    ['course_id + user_id + only an old_ score', 'course_grade_change', {
      current_score: undefined, final_score: undefined, unposted_current_score: undefined,
      unposted_final_score: undefined, old_unposted_current_score: undefined, old_unposted_final_score: undefined,
      old_current_score: undefined,
    }],
    ['an override key', 'grade_override', {}],
  ])('with no event_name, the shape decides: %s', (_label, name, body) => {
    const e = variant(name, { metadata: { event_name: undefined }, body });
    expect(run(e)).toMatchObject({ outcome: 'valid', kind: name });
  });

  it('event_name null is the same as absent', () => {
    expect(run(variant('grade_change', { metadata: { event_name: null } }))).toMatchObject({ kind: 'grade_change' });
  });

  it('no event_name and no known shape is quarantined as not_an_event', () => {
    expect(run({ metadata: { event_time: '2019-11-01T19:11:05Z' }, body: { enrollment_id: '4' } })).toMatchObject({
      outcome: 'quarantined',
      reason: 'not_an_event',
    });
  });

  it('reads the older Kinesis form, attributes instead of metadata', () => {
    const e = fixture('grade_change');
    expect(intakeText(JSON.stringify({ attributes: e.metadata, body: e.body }))).toEqual(run(e));
  });
});

describe('normalisation (SPEC §1.3)', () => {
  it('absent and null are the same', () => {
    const absent = run(variant('grade_change', { body: { grader_id: undefined, grade: undefined, old_grade: undefined } }));
    const nulls = run(variant('grade_change', { body: { grader_id: null, grade: null, old_grade: null } }));
    expect(absent).toEqual(nulls);
    expect(valid(absent)).toMatchObject({ grader_id: null, grade: null });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]>([
    ['local body ids take the shard of a global context_id', { context_id: '21070000000000002' }, { course_id: '7', user_id: '12' }, { course_id: '21070000000000007', student_id: '21070000000000012' }],
    ['with a local context_id, the shard of root_account_id', { context_id: '2', root_account_id: '30000000000001' }, { course_id: '7', user_id: '12' }, { course_id: '30000000000007', student_id: '30000000000012', root_account_id: '30000000000001' }],
    ['a local root_account_id is canonicalised too', { context_id: '21070000000000002', root_account_id: '1' }, {}, { root_account_id: '21070000000000001' }],
    ['with no shard known, ids stay as given', { context_id: '2', root_account_id: '1' }, { course_id: '7', user_id: '12' }, { course_id: '7', student_id: '12', root_account_id: '1' }],
    ['global body ids stay', {}, { course_id: '98760000000000007', user_id: '21070000000000099' }, { course_id: '98760000000000007', student_id: '21070000000000099' }],
    ['safe JSON integers are accepted and written as strings', {}, { course_id: 7, user_id: 12 }, { course_id: '21070000000000007', student_id: '21070000000000012' }],
    ['leading zeros are not part of an id', {}, { course_id: '007' }, { course_id: '21070000000000007' }],
    ['a shard above 2^53 / 10^13 is exact', { context_id: '9000000000000000002' }, { course_id: '5', user_id: '9007199254740993' }, { course_id: '9000000000000000005', student_id: '9007199254740993' }],
  ])('ids: %s', (_label, metadata, body, expected) => {
    expect(valid(run(variant('course_grade_change', { metadata, body })))).toMatchObject(expected);
  });

  it.each([
    ['Z', '2019-11-01T19:11:05.222Z', '2019-11-01T19:11:05.222Z'],
    ['±HH:MM', '2019-11-01T12:11:05.222-07:00', '2019-11-01T19:11:05.222Z'],
    ['±HHMM', '2019-11-02T00:41:05.222+0530', '2019-11-01T19:11:05.222Z'],
    ['±HH', '2019-11-01T21:11:05.222+02', '2019-11-01T19:11:05.222Z'],
    ['no fraction', '2019-11-01T19:11:05Z', '2019-11-01T19:11:05.000Z'],
    ['one fraction digit', '2019-11-01T19:11:05.5Z', '2019-11-01T19:11:05.500Z'],
    ['nine fraction digits, truncated', '2019-11-01T19:11:05.999999999Z', '2019-11-01T19:11:05.999Z'],
    ['a date change across the offset', '2020-01-01T00:30:00+01:00', '2019-12-31T23:30:00.000Z'],
    ['29 February of a leap year', '2020-02-29T12:00:00Z', '2020-02-29T12:00:00.000Z'],
  ])('timestamps: %s', (_label, text, utc) => {
    expect(valid(run(variant('grade_change', { metadata: { event_time: text } })))['instant']).toBe(Date.parse(utc));
  });

  it('offsets may differ between timestamps of one event; instants are compared, not strings', () => {
    // updated_at is the later instant although its text sorts first
    const r = valid(run(variant('course_grade_change', {
      metadata: { event_time: '2019-12-11T17:00:00+01:00' },
      body: { updated_at: '2019-12-11T10:30:00-06:00' },
    })));
    expect(r['event_time']).toBe(Date.parse('2019-12-11T16:00:00Z'));
    expect(r['instant']).toBe(Date.parse('2019-12-11T16:30:00Z'));
  });

  it.each<[FixtureName, Record<string, unknown>, Record<string, unknown>, string]>([
    ['grade_change', {}, {}, '2019-11-01T19:11:05.222Z'],
    ['course_grade_change', {}, { updated_at: undefined }, '2019-12-11T16:26:34.552Z'],
    ['grade_override', { event_time: '2019-11-15T07:46:20Z' }, { updated_at: '2019-11-15T07:46:18.697Z' }, '2019-11-15T07:46:18.697Z'],
    ['grade_override', { event_time: '2019-11-15T07:46:20Z' }, { updated_at: null }, '2019-11-15T07:46:20Z'],
    // grade_change orders by event_time even when its body has an updated_at
    ['grade_change', {}, { updated_at: '2030-01-01T00:00:00Z' }, '2019-11-01T19:11:05.222Z'],
  ])('the instant of %s', (name, metadata, body, utc) => {
    expect(valid(run(variant(name, { metadata, body })))['instant']).toBe(Date.parse(utc));
  });

  it.each([
    ['a numeric string score is converted', { score: '4.5', points_possible: '10' }, { score: 4.5, points_possible: 10 }],
    ['an exponent string', { score: '1e1' }, { score: 10 }],
    ['a null score', { score: null }, { score: null }],
    ['a number grade becomes a string', { grade: 93.5 }, { grade: '93.5' }],
    ['a letter grade', { grade: 'A-' }, { grade: 'A-' }],
  ])('scores and grades: %s', (_label, body, expected) => {
    expect(valid(run(variant('grade_change', { body })))).toMatchObject(expected);
  });

  it.each([
    ['muted false is posted', false, false],
    ['muted true is unposted', true, true],
    ['muted null is unposted (fail safe)', null, true],
    ['muted absent is unposted (fail safe)', undefined, true],
  ])('posted state: %s', (_label, muted, expected) => {
    expect(valid(run(variant('grade_change', { body: { muted } })))['muted']).toBe(expected);
  });

  it.each<[string, Record<string, unknown>, string | null]>([
    ['a Course context gives the course', {}, '21070000000000565'],
    ['a non-Course context gives none', { context_type: 'Account' }, null],
    ['no context gives none', { context_type: undefined, context_id: undefined }, null],
  ])('course of a grade_change: %s', (_label, metadata, course) => {
    expect(valid(run(variant('grade_change', { metadata })))['course_id']).toBe(course);
  });

  it('course SIS id only when the Course context is the record course', () => {
    expect(valid(run(variant('course_grade_change', {})))['course_sis_id']).toBe('194387');
    expect(valid(run(variant('course_grade_change', { body: { course_id: '3' } })))['course_sis_id']).toBeNull();
    expect(valid(run(variant('course_grade_change', { metadata: { context_type: 'Account' } })))['course_sis_id']).toBeNull();
  });

  it('student SIS id comes from body.student_sis_id only, never metadata.user_sis_id', () => {
    expect(valid(run(variant('grade_change', { body: { student_sis_id: null } })))['student_sis_id']).toBeNull();
    expect(valid(run(variant('grade_change', { body: { student_sis_id: '' } })))['student_sis_id']).toBeNull();
    expect(valid(run(variant('course_grade_change', { metadata: { user_sis_id: 'T-1' } })))).not.toHaveProperty('student_sis_id');
  });

  it('student id falls back to body.user_id', () => {
    expect(valid(run(variant('grade_change', { body: { student_id: undefined } })))['student_id']).toBe('21070000000000048');
  });

  it('workflow_state deleted is kept; absent means active', () => {
    expect(valid(run(variant('course_grade_change', { body: { workflow_state: 'deleted' } })))['workflow_state']).toBe('deleted');
    expect(valid(run(variant('course_grade_change', { body: { workflow_state: undefined } })))['workflow_state']).toBe('active');
  });

  it('an override cleared to null, and one without a grading period', () => {
    expect(valid(run(variant('grade_override', { body: { override_score: null, grading_period_id: undefined } })))).toMatchObject({
      override_score: null,
      grading_period_id: null,
    });
  });

  it('intakeValue reads an already-decoded envelope like its text', () => {
    expect(intakeValue(fixture('grade_change'))).toEqual(run(fixture('grade_change')));
  });
});

describe('quarantine reasons (SPEC §1.4)', () => {
  it.each<[string, string, string, RegExp]>([
    ['not JSON', '{"metadata": {', 'malformed_json', /not JSON/],
    ['empty object', '{}', 'not_an_event', /metadata/],
    ['an array', '[1,2]', 'not_an_event', /object/],
    ['body not an object', '{"metadata":{"event_name":"grade_change"},"body":"x"}', 'not_an_event', /body/],
  ])('%s', (_label, text, reason, detail) => {
    const v = intakeText(text);
    expect(v).toMatchObject({ outcome: 'quarantined', reason });
    expect(v.outcome === 'quarantined' && v.detail).toMatch(detail);
  });

  it.each<[string, FixtureName, Envelope['metadata'], Envelope['body'], string, RegExp]>([
    ['missing event_time', 'grade_change', { event_time: undefined }, {}, 'invalid_field', /metadata\.event_time: required/],
    ['event_time a number', 'grade_change', { event_time: 1572635465222 }, {}, 'invalid_field', /metadata\.event_time: 1572635465222/],
    ['no offset', 'grade_change', { event_time: '2019-11-01T19:11:05.222' }, {}, 'timestamp_without_offset', /metadata\.event_time: "2019-11-01T19:11:05\.222"/],
    ['30 February', 'grade_change', { event_time: '2019-02-30T10:00:00Z' }, {}, 'invalid_timestamp', /metadata\.event_time: "2019-02-30T10:00:00Z"/],
    ['29 February of a common year', 'grade_change', { event_time: '2019-02-29T10:00:00Z' }, {}, 'invalid_timestamp', /2019-02-29/],
    ['hour 24', 'grade_change', { event_time: '2019-11-01T24:00:00Z' }, {}, 'invalid_timestamp', /T24:00/],
    ['not a date', 'grade_change', { event_time: 'yesterday' }, {}, 'invalid_timestamp', /"yesterday"/],
    ['a space instead of T', 'grade_change', { event_time: '2019-11-01 19:11:05Z' }, {}, 'invalid_timestamp', /2019-11-01 19/],
    ['an offset past year 9999 in UTC', 'grade_change', { event_time: '9999-12-31T23:59:59.999-00:01' }, {}, 'invalid_timestamp', /outside the years 0000-9999/],
    ['an offset before year 0000 in UTC', 'grade_change', { event_time: '0000-01-01T00:00:00+01' }, {}, 'invalid_timestamp', /outside the years 0000-9999/],
    ['bad updated_at', 'course_grade_change', {}, { updated_at: '2019-12-11T16:26:34' }, 'timestamp_without_offset', /body\.updated_at/],
    ['unsafe integer id', 'grade_change', {}, {}, 'unsafe_integer_id', /body\.student_id: 21070000000000048 /],
    ['id with letters', 'grade_change', {}, { assignment_id: '2107~355' }, 'invalid_field', /body\.assignment_id: "2107~355"/],
    ['negative id', 'grade_change', {}, { assignment_id: -5 }, 'invalid_field', /body\.assignment_id: -5/],
    ['fractional id', 'course_grade_change', {}, { course_id: 1.5 }, 'invalid_field', /body\.course_id: 1\.5/],
    ['id beyond 64 bits', 'grade_change', {}, { assignment_id: '99999999999999999999' }, 'invalid_field', /64-bit/],
    ['missing assignment_id', 'grade_change', {}, { assignment_id: undefined }, 'invalid_field', /body\.assignment_id: required/],
    ['missing student', 'grade_change', {}, { student_id: undefined, user_id: null }, 'invalid_field', /body\.student_id: required/],
    ['missing course_id', 'course_grade_change', {}, { course_id: null }, 'invalid_field', /body\.course_id: required/],
    ['score junk', 'grade_change', {}, { score: 'A' }, 'invalid_field', /body\.score: "A"/],
    ['score boolean', 'grade_change', {}, { score: true }, 'invalid_field', /body\.score: true/],
    ['score empty string', 'grade_change', {}, { score: '' }, 'invalid_field', /body\.score: ""/],
    ['old score junk', 'course_grade_change', {}, { old_final_score: 'NaN' }, 'invalid_field', /body\.old_final_score: "NaN"/],
    ['override junk', 'grade_override', {}, { override_score: { v: 1 } }, 'invalid_field', /body\.override_score/],
    ['grade object', 'grade_change', {}, { grade: ['A'] }, 'invalid_field', /body\.grade: \["A"\]/],
    ['muted string', 'grade_change', {}, { muted: 'false' }, 'invalid_field', /body\.muted: "false"/],
    ['workflow_state unknown', 'course_grade_change', {}, { workflow_state: 'pending' }, 'invalid_field', /body\.workflow_state: "pending"/],
    ['U+0000 in a grade', 'grade_change', {}, { grade: 'A\u0000' }, 'invalid_field', /body\.grade: .*contains U\+0000/],
    ['U+0000 in a student SIS id', 'grade_change', {}, { student_sis_id: '\u0000' }, 'invalid_field', /body\.student_sis_id/],
    ['event_name a number', 'grade_change', { event_name: 7 }, {}, 'invalid_field', /metadata\.event_name: 7/],
  ])('%s', (_label, name, metadata, body, reason, detail) => {
    let text = JSON.stringify(variant(name, { metadata, body }));
    if (reason === 'unsafe_integer_id') text = text.replace('"student_id":"21070000000000048"', '"student_id":21070000000000048');
    const v = intakeText(text);
    expect(v).toMatchObject({ outcome: 'quarantined', reason });
    expect(v.outcome === 'quarantined' && v.detail).toMatch(detail);
  });

  it('a score that overflows to Infinity in JSON is invalid, and says so', () => {
    const text = JSON.stringify(variant('grade_change', { body: { score: 1 } })).replace('"score":1', '"score":1e400');
    expect(intakeText(text)).toMatchObject({ outcome: 'quarantined', reason: 'invalid_field', detail: 'body.score: Infinity is not a finite number' });
  });

  it('an unsafe id written with an exponent is shown as written', () => {
    const text = JSON.stringify(variant('grade_change', {})).replace('"student_id":"21070000000000048"', '"student_id":2.107e16');
    expect(intakeText(text)).toMatchObject({ outcome: 'quarantined', reason: 'unsafe_integer_id', detail: expect.stringMatching(/^body\.student_id: 2\.107e16 is a JSON number/) });
  });

  it('the last and first instants a four-digit UTC year can write are valid (received in year 9999)', () => {
    const receivedAt = Date.parse('9999-12-31T00:00:00Z');
    for (const t of ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999+00:01', '0000-01-01T00:00:00Z']) {
      expect(intakeText(JSON.stringify(variant('grade_change', { metadata: { event_time: t } })), { receivedAt }).outcome, t).toBe('valid');
    }
  });
});
