import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AvroDecoder, avroValueJson, loadNormalisedEventType, loadType } from '../../src/intake/avro.js';
import { intakeText, intakeValue, type Verdict } from '../../src/intake/intake.js';
import {
  CourseGradeChangeRecord,
  GradeChangeRecord,
  GradeOverrideRecord,
  type NormalisedEvent,
} from '../../src/intake/records.js';

type Json = Record<string, unknown>;
type Envelope = { metadata: Json; body: Json };

const fixture = (name: string): Envelope =>
  JSON.parse(readFileSync(new URL(`../fixtures/canvas/${name}.json`, import.meta.url), 'utf8')) as Envelope;
type RecordSchema = { name: string; fields: { name: string }[] };
const schemaJson = (file: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../schemas/${file}`, import.meta.url), 'utf8'));

// Schema ids of schemas/registry.json.
const ids = { gradeChangeV1: 1, gradeChange: 2, courseGradeChange: 3, gradeOverride: 4 } as const;
const examples = [
  { name: 'grade_change', id: ids.gradeChange },
  { name: 'course_grade_change', id: ids.courseGradeChange },
  { name: 'grade_override', id: ids.gradeOverride },
] as const;

const wire = (id: number, body: Uint8Array | number[]): Uint8Array => {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, Buffer.from(body)]);
};

const expectInvalidAvro = (verdict: Verdict, detail?: RegExp): void => {
  expect(verdict).toMatchObject({ outcome: 'quarantined', reason: 'invalid_avro' });
  if (detail && verdict.outcome === 'quarantined') expect(verdict.detail).toMatch(detail);
};

let decoder: AvroDecoder;
beforeAll(async () => {
  decoder = await AvroDecoder.load();
});

describe('Canvas events in the Confluent wire format', () => {
  it.each(examples)('$name decodes to the same verdict as its JSON', ({ name, id }) => {
    const event = fixture(name);
    const buf = decoder.encode(id, event);
    expect(buf[0]).toBe(0);
    expect(buf.readUInt32BE(1)).toBe(id);
    const verdict = decoder.decode(buf);
    expect(verdict.outcome).toBe('valid');
    expect(verdict).toEqual(intakeValue(event));
  });

  it('keeps the ISO 8601 text and ids exactly as Canvas sent them', () => {
    const event = fixture('grade_change');
    event.metadata['event_time'] = '2019-11-01T12:11:05.222-07:00';
    const decoded = decoder.decodeWire(decoder.encode(ids.gradeChange, event));
    expect(decoded).toMatchObject({ ok: true, schemaId: ids.gradeChange, value: event });
  });

  it('encodes compact payloads (null keys dropped) and reads them back as null', () => {
    const event = fixture('grade_change');
    delete event.body['grader_id'];
    delete event.metadata['user_sis_id'];
    const decoded = decoder.decodeWire(decoder.encode(ids.gradeChange, event));
    expect(decoded.ok && (decoded.value as Envelope).body['grader_id']).toBeNull();
    expect(decoder.decode(decoder.encode(ids.gradeChange, event))).toEqual(intakeValue(event));
  });

  it('a NaN or infinite score stays invalid in the JSON kept for quarantine, so a re-drive refuses it too', () => {
    for (const score of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const event = fixture('grade_change');
      event.body['score'] = score;
      const decoded = decoder.decodeWire(decoder.encode(ids.gradeChange, event));
      expect(decoded.ok).toBe(true);
      const value = decoded.ok ? decoded.value : null;
      expect(intakeValue(value)).toMatchObject({ outcome: 'quarantined', reason: 'invalid_field' });
      const raw = avroValueJson(value);
      expect(JSON.parse(raw).body.score).toBe(String(score));
      expect(intakeText(raw)).toMatchObject({ outcome: 'quarantined', reason: 'invalid_field' }); // JSON.stringify: null, a valid score
    }
  });

  it('refuses to encode a value that does not fit the schema', () => {
    const event = fixture('grade_change');
    event.body['assignment_id'] = 21070000000000355; // ids are strings, never numbers
    expect(() => decoder.encode(ids.gradeChange, event)).toThrow(/body\.assignment_id/);
    expect(() => decoder.encode(99, event)).toThrow(/unknown schema id 99/);
  });
});

describe('schema evolution', () => {
  it('reads a value written with grade_change v1 as the latest version (new fields null)', () => {
    const event = fixture('grade_change');
    const decoded = decoder.decodeWire(decoder.encode(ids.gradeChangeV1, event));
    expect(decoded.ok).toBe(true);
    const value = (decoded as { value: Envelope }).value;
    expect(value.body).toMatchObject({ grading_complete: null, grader_id: null, score: 5 });
    expect(value.metadata).toMatchObject({ user_agent: null, event_time: '2019-11-01T19:11:05.222Z' });

    const verdict = decoder.decode(decoder.encode(ids.gradeChangeV1, event));
    const expected = intakeValue({
      metadata: event.metadata,
      body: { ...event.body, grading_complete: null, grader_id: null },
    });
    expect(verdict).toEqual(expected);
    expect(verdict).toMatchObject({ outcome: 'valid', record: { grading_complete: null, grader_id: null } });
  });

  it('refuses at load a registry whose older writer cannot be read as the latest', () => {
    const v1 = { type: 'record', name: 'E', fields: [{ name: 'a', type: 'string' }] };
    const v2 = { type: 'record', name: 'E', fields: [{ name: 'b', type: 'string' }] }; // b has no default
    expect(() =>
      AvroDecoder.fromRegistry([
        { id: 1, subject: 's', version: 1, schema: v1 },
        { id: 2, subject: 's', version: 2, schema: v2 },
      ]),
    ).toThrow(/schema id 1 \(s v1\) cannot be read as v2/);
    const twice = (a: number, b: number, va: number, vb: number) => () =>
      AvroDecoder.fromRegistry([
        { id: a, subject: 's', version: va, schema: v1 },
        { id: b, subject: 's', version: vb, schema: v1 },
      ]);
    expect(twice(1, 1, 1, 2)).toThrow(/schema id 1 is registered twice/);
    expect(twice(1, 2, 1, 1)).toThrow(/s v1 is registered twice/);
  });
});

describe('undecodable values are quarantined as invalid_avro, never thrown', () => {
  it('an empty buffer', () => expectInvalidAvro(decoder.decode(new Uint8Array()), /0 bytes/));

  it('a header cut short', () => expectInvalidAvro(decoder.decode(new Uint8Array([0, 0, 0])), /3 bytes/));

  it('magic byte 1', () => {
    const buf = decoder.encode(ids.gradeChange, fixture('grade_change'));
    buf[0] = 1;
    expectInvalidAvro(decoder.decode(buf), /magic byte 1/);
  });

  it('an unknown schema id', () => expectInvalidAvro(decoder.decode(wire(42, [0, 0])), /unknown schema id 42/));

  it('a truncated body', () => {
    const buf = decoder.encode(ids.courseGradeChange, fixture('course_grade_change'));
    for (const cut of [5, 6, buf.length - 1]) {
      expectInvalidAvro(decoder.decode(buf.subarray(0, cut)), /schema id 3 .*truncated/);
    }
  });

  it('trailing bytes', () => {
    const buf = decoder.encode(ids.gradeOverride, fixture('grade_override'));
    expectInvalidAvro(decoder.decode(Buffer.concat([buf, Buffer.from([0, 0])])), /2 trailing bytes/);
  });

  it('a union branch index out of range', () => {
    expectInvalidAvro(decoder.decode(wire(ids.gradeChange, [0x7e])), /undecodable Avro/);
  });

  it('a Uint8Array view into a larger buffer decodes like a Buffer', () => {
    const buf = decoder.encode(ids.gradeOverride, fixture('grade_override'));
    const big = new Uint8Array(buf.length + 7);
    big.set(buf, 3);
    expect(decoder.decode(big.subarray(3, 3 + buf.length))).toEqual(intakeValue(fixture('grade_override')));
  });

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const verdict = decoder.decode(bytes);
        if (bytes[0] !== 0) expectInvalidAvro(verdict);
      }),
    );
  });

  it('random bodies behind a known schema id', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3, 4), fc.uint8Array({ maxLength: 300 }), (id, body) => {
        // Some random bodies are valid Avro (e.g. all nulls); intake then judges them. Nothing throws.
        const verdict = decoder.decode(wire(id, body));
        expect(['valid', 'ignored', 'quarantined']).toContain(verdict.outcome);
      }),
    );
  });
});

describe('gradestream-normalised-event.avsc stays in step with records.ts', () => {
  const records = (): NormalisedEvent[] =>
    examples.map(({ name }) => {
      const verdict = intakeValue(fixture(name));
      if (verdict.outcome !== 'valid') throw new Error(`${name} fixture is not valid: ${JSON.stringify(verdict)}`);
      return verdict.record;
    });

  it('accepts and round-trips the normalised records of the fixtures', async () => {
    const type = await loadNormalisedEventType();
    const all = records();
    // A record with every nullable field null, and a muted one.
    const sparse = { ...all[0]!, course_id: null, submission_id: null, score: null, grade: null, muted: true };
    for (const record of [...all, sparse]) {
      expect(type.isValid(record)).toBe(true);
      expect(type.fromBuffer(type.toBuffer(record))).toEqual(record);
    }
  });

  it('refuses what records.ts refuses', async () => {
    const type = await loadNormalisedEventType();
    const [gradeChange, courseGrade] = records();
    expect(type.isValid({ ...gradeChange!, student_id: null })).toBe(false);
    expect(type.isValid({ ...courseGrade!, workflow_state: 'archived' })).toBe(false);
    expect(type.isValid({ ...courseGrade!, kind: 'nonsense' })).toBe(false);
    expect(type.isValid({ ...courseGrade!, kind: 'grade_override' }, { noUndeclaredFields: true })).toBe(false);
  });

  it('has exactly the fields of each zod record, in order', () => {
    const union = schemaJson('gradestream-normalised-event.avsc') as RecordSchema[];
    const zod = { GradeChangeRecord, CourseGradeChangeRecord, GradeOverrideRecord };
    expect(union.map((r) => r.name)).toEqual(Object.keys(zod));
    for (const record of union) {
      const shape = zod[record.name as keyof typeof zod].shape;
      expect(record.fields.map((f) => f.name), record.name).toEqual(Object.keys(shape));
    }
  });
});

describe('sis-feed-row.avsc', () => {
  const columns =
    'record_type,op,root_account_id,course_id,course_sis_id,student_id,student_sis_id,assignment_id,grading_period_id,score,grade,points_possible,current_score,final_score,override_score,grading_complete,changed_at';

  it('has exactly the SPEC §6 columns, in order', () => {
    const row = schemaJson('sis-feed-row.avsc') as RecordSchema;
    expect(row.fields.map((f) => f.name).join(',')).toBe(columns);
  });

  it('takes a course row', async () => {
    const type = await loadType('sis-feed-row.avsc');
    const row = Object.fromEntries(columns.split(',').map((c) => [c, null]));
    Object.assign(row, { record_type: 'course', op: 'upsert', score: 90, changed_at: '2019-11-15T07:46:18.697Z' });
    expect(type.fromBuffer(type.toBuffer(row))).toEqual(row);
  });
});
