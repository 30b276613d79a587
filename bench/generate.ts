/**
 * Realistic Canvas grade events for benchmarks: the documentation's payloads with varied ids, scores,
 * offsets and fraction lengths; about 60% grade_change, 30% course_grade_change, 10% grade_override.
 */

const OFFSETS = ['Z', '+00:00', '-07:00', '-0600', '+10:30', '+05', '-03:30'];

/** A small deterministic PRNG so every run benchmarks the same messages. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function timestamp(ms: number, offset: string, fraction: number): string {
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset === 'Z' ? '0000' : offset.slice(1).replace(':', '').padEnd(4, '0');
  const minutes = offset === 'Z' ? 0 : sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  const d = new Date(ms + minutes * 60_000);
  const frac = fraction === 0 ? '' : `.${pad(d.getUTCMilliseconds(), 3)}${'123456'.slice(0, Math.max(0, fraction - 3))}`.slice(0, fraction + 1);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac}${offset}`;
}

const SHARD = '2107';
const global = (local: number) => SHARD + String(local).padStart(13, '0');

const metadataBase = {
  client_ip: '93.184.216.34',
  context_account_id: '21070000000000079',
  context_role: 'TeacherEnrollment',
  context_type: 'Course',
  hostname: 'oxana.instructure.com',
  http_method: 'POST',
  producer: 'canvas',
  referrer: 'https://oxana.instructure.com/courses/565/gradebook',
  request_id: '1dd9dc6f-2fb0-4c19-a6c5-7ee1bf3ed295',
  root_account_id: '21070000000000001',
  root_account_lti_guid: 'VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.oxana.instructure.com',
  root_account_uuid: 'VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs',
  session_id: 'ef686f8ed684abf78cbfa1f6a58112b5',
  time_zone: 'America/Denver',
  url: 'https://oxana.instructure.com/api/v1/courses/565/assignments/355/submissions/48?include%5B%5D=visibility',
  user_account_id: '21070000000000001',
  user_agent:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/73.0.3683.103 Safari/537.36',
  user_id: '21070000000000987',
  user_login: 'oxana@example.com',
  user_sis_id: '456-T45',
};

export interface GenerateOptions {
  count: number;
  /** distinct (student, assignment) pairs; keys repeat, so later events supersede earlier ones */
  keys?: number;
  seed?: number;
  startMs?: number;
}

/** Canvas-format JSON texts, one per event. */
export function* generateEvents({ count, keys = 200_000, seed = 1, startMs = Date.UTC(2026, 8, 1) }: GenerateOptions): Generator<string> {
  const rnd = prng(seed);
  const students = Math.max(1, Math.round(Math.sqrt(keys * 4)));
  const assignmentsPerCourse = 10;
  for (let i = 0; i < count; i++) {
    const key = Math.floor(rnd() * keys);
    const student = key % students;
    const course = 100 + (Math.floor(key / students) % 50);
    const assignment = course * 1000 + (Math.floor(key / (students * 50)) % assignmentsPerCourse);
    const ms = startMs + i * 1000 + Math.floor(rnd() * 1000);
    const offset = OFFSETS[Math.floor(rnd() * OFFSETS.length)]!;
    const fraction = [0, 3, 3, 3, 6][Math.floor(rnd() * 5)]!;
    const eventTime = timestamp(ms, offset, fraction);
    const r = rnd();
    const metadata = { ...metadataBase, context_id: global(course), context_sis_source_id: `SIS-C${course}`, event_time: eventTime };
    let event: unknown;
    if (r < 0.6) {
      const score = Math.round(rnd() * 1000) / 10;
      event = {
        metadata: { ...metadata, event_name: 'grade_change' },
        body: {
          assignment_id: global(assignment),
          grade: String(score),
          grader_id: '21070000000000987',
          grading_complete: true,
          muted: rnd() < 0.2,
          old_grade: '4',
          old_points_possible: 100,
          old_score: 4,
          points_possible: 100,
          score,
          student_id: global(student),
          student_sis_id: `S${student}`,
          submission_id: global(i),
          user_id: global(student),
        },
      };
    } else if (r < 0.9) {
      const current = Math.round(rnd() * 10000) / 100;
      event = {
        metadata: { ...metadata, event_name: 'course_grade_change' },
        body: {
          user_id: String(student),
          course_id: String(course),
          workflow_state: 'active',
          created_at: timestamp(startMs, 'Z', 0),
          updated_at: timestamp(ms, offset, 0),
          current_score: current,
          old_current_score: 13.46,
          final_score: current * 0.9,
          old_final_score: 9.72,
          unposted_current_score: current,
          old_unposted_current_score: 13.46,
          unposted_final_score: current * 0.9,
          old_unposted_final_score: 9.72,
        },
      };
    } else {
      event = {
        metadata: { ...metadata, event_name: 'grade_change' }, // as in Canvas's own example
        body: {
          score_id: String(i),
          enrollment_id: String(i),
          user_id: String(student),
          course_id: String(course),
          grading_period_id: rnd() < 0.5 ? '47' : null,
          override_score: Math.round(rnd() * 100),
          old_override_score: 85,
          updated_at: eventTime,
        },
      };
    }
    yield JSON.stringify(event);
  }
}
