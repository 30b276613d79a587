import { prng as random } from '../../bench/generate.js';
import { fixture, type Envelope, type FixtureName } from './events.js';

/**
 * A seeded generator of hostile messages (issue 13): Canvas events mutated the ways a broken or hostile
 * producer would — truncated, wrong types, unsafe integers, deep nesting, huge strings, bytes that are
 * not UTF-8, NUL, BOMs, duplicate and prototype keys, odd whitespace, flipped bytes — mixed with
 * innocent events. Deterministic for a seed, so a failure can be replayed.
 */
export interface Hostile {
  /** what was done to the message (for the figures and for a failing assertion's message) */
  kind: string;
  bytes: Buffer;
  /** an unmutated event, whose verdict must be valid */
  innocent: boolean;
}

/** The benchmarks' seeded PRNG (mulberry32), good enough to pick mutations. */
export { prng as random } from '../../bench/generate.js';

const NAMES: FixtureName[] = ['grade_change', 'course_grade_change', 'grade_override'];
const FIELDS = ['score', 'grade', 'muted', 'student_id', 'assignment_id', 'course_id', 'user_id', 'current_score', 'final_score', 'override_score', 'student_sis_id', 'updated_at', 'points_possible', 'workflow_state', 'grading_period_id'];
const META = ['event_name', 'event_time', 'context_id', 'root_account_id', 'context_type', 'context_sis_source_id'];
const ODD_SPACE = ['\u00a0', '\u2028', '\u2029', '\u3000', '\ufeff', '\u000b', '\u000c', '\u0085'];
const PROTO = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];

/** `count` messages, made one at a time (huge ones are not all held at once). */
export function* hostileMessages(count: number, seed = 13): Generator<Hostile> {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  const templates = NAMES.map((n) => JSON.stringify(fixture(n)));
  // A distinct student per message, so innocents do not merely repeat one another.
  const innocent = (i: number) => {
    const e = JSON.parse(pick(templates)) as Envelope;
    const student = `2107${String(5_000_000_000 + i).padStart(13, '0')}`;
    if ('student_id' in e.body) e.body['student_id'] = student;
    if ('user_id' in e.body) e.body['user_id'] = e.body['student_id'] ?? String(5_000_000 + i);
    return e;
  };
  const oddValue = (): unknown => {
    switch (int(12)) {
      case 0: return String(2 ** 53 + int(1000)); // an unsafe integer, as text to splice below
      case 1: return { x: pick(PROTO) };
      case 2: return [1, 2, 3];
      case 3: return true;
      case 4: return '';
      case 5: return 'x'.repeat(1 + int(200_000));
      case 6: return -int(1e9);
      case 7: return 1e308 * 10; // Infinity: JSON.stringify writes null
      case 8: return 'A\u0000B';
      case 9: return '\ud800';
      case 10: return pick(ODD_SPACE);
      default: return null;
    }
  };
  for (let i = 0; i < count; i++) {
    const e = innocent(i);
    let text = JSON.stringify(e);
    let bytes: Buffer | undefined;
    let kind: string;
    const roll = int(20);
    switch (roll) {
      case 0: case 1: case 2: case 3: case 4: case 5: // innocent
        yield { kind: 'innocent', bytes: Buffer.from(text), innocent: true };
        continue;
      case 6: kind = 'truncated'; text = text.slice(0, int(text.length)); break;
      case 7: {
        kind = 'wrong type';
        const part = rnd() < 0.3 ? e.metadata : e.body;
        part[pick(part === e.metadata ? META : FIELDS)] = oddValue();
        text = JSON.stringify(e);
        break;
      }
      case 8: {
        kind = 'unsafe integer id';
        const body = text.indexOf('"body":');
        text = text.slice(0, body) + text.slice(body).replace(/"(student_id|user_id|assignment_id|course_id)":"(\d+)"/, (_m, k: string) => `"${k}":${2 ** 53 + 1 + int(1e6)}`);
        break;
      }
      case 9: {
        kind = 'deep nesting';
        const levels = 1 + int(2_000);
        const open = rnd() < 0.5 ? '['.repeat(levels) : '{"a":'.repeat(levels);
        const close = open.startsWith('[') ? ']'.repeat(levels) : '}'.repeat(levels);
        text = text.replace(/"(score|grade|current_score|override_score|context_type)":/, (m) => `${m}${open}1${close},"x${int(1e9)}":`);
        break;
      }
      case 10: if (rnd() < 0.8) { kind = 'truncated'; text = text.slice(0, int(text.length)); break; }
        kind = 'huge string'; text = text.replace('"body":{', `"body":{"junk":"${'y'.repeat(100_000 + int(200_000))}",`); break;
      case 11: {
        kind = 'invalid UTF-8';
        const b = Buffer.from(text);
        const at = int(b.length);
        const bad = pick([[0x80], [0xc0, 0xaf], [0xe0, 0xa4], [0xed, 0xa0, 0x80], [0xff], [0xf4, 0x90, 0x80, 0x80], [0xe9]]);
        bytes = Buffer.concat([b.subarray(0, at), Buffer.from(bad), b.subarray(at)]);
        break;
      }
      case 12: kind = 'NUL'; text = text.replace(/"(grade|student_sis_id|event_name|context_sis_source_id)":"/, (m) => `${m}\\u0000`); break;
      case 13: kind = 'BOM'; text = rnd() < 0.5 ? `\ufeff${text}` : text.replace('"body"', '\ufeff"body"'); break;
      case 14: {
        kind = 'duplicate key';
        const key = pick(['muted', 'score', 'event_name', 'student_id', 'metadata', 'body']);
        text = text.replace(/"body":\{/, `"body":{"${key}":${JSON.stringify(oddValue()) ?? 'null'},`).replace('"metadata":{', `"metadata":{"${key}":1,`);
        break;
      }
      case 15: {
        kind = 'prototype key';
        const key = pick(PROTO);
        text = text.replace('"body":{', `"body":{"${key}":{"muted":false,"score":1},`).replace(/^\{/, `{"${key}":{"metadata":{},"body":{}},`);
        if (rnd() < 0.3) text = JSON.stringify({ metadata: { event_name: key }, body: {} });
        break;
      }
      case 16: kind = 'odd whitespace'; text = rnd() < 0.5 ? pick(ODD_SPACE) + text + pick(ODD_SPACE) : text.replace(/,/g, () => (rnd() < 0.1 ? `,${pick(ODD_SPACE)}` : ',')); break;
      case 17: {
        kind = 'flipped bytes';
        const b = Buffer.from(text);
        for (let k = 0, n = 1 + int(8); k < n; k++) b[int(b.length)] = int(256);
        bytes = b;
        break;
      }
      case 18: kind = 'not an event'; text = pick(['null', '[]', '"x"', '1e999', '{}', '{"metadata":[],"body":{}}', '', ' ', '{"body":{"score":1}}', JSON.stringify({ attributes: e.metadata, body: e.body })]); break;
      default: kind = 'far future'; text = text.replace(/"(event_time|updated_at)":"\d{4}/g, (_m, k: string) => `"${k}":"${2100 + int(7800)}`); break;
    }
    yield { kind, bytes: bytes ?? Buffer.from(text), innocent: false };
  }
}
