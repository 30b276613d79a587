import { readFile } from 'node:fs/promises';
import { IANAZone } from 'luxon';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { readId } from '../intake/ids.js';
import { IntakeProblem } from '../intake/reasons.js';
import { FeedFormat } from '../sinks/formats/format.js';
import { sinkUrlProblem } from '../sinks/url.js';

/**
 * The schedules file (SPEC §4): YAML or JSON (JSON is YAML 1.2, so one parser reads both), either a
 * list of schedules or `{schedules: [...]}`. Every problem in the file is collected into one
 * ConfigError, so a broken file is fixed in one pass. Pause/resume state is not here: it lives in the
 * store.
 */

/** Ids appear in URLs (/api/schedules/{id}/run), metric labels and command lines: keep them plain. */
const SCHEDULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What each field must be, said once for every way it can be wrong. */
const EXPECTED: Record<string, string> = {
  id: 'an id of letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit)',
  hourOfDay: 'a whole hour from 0 to 23',
  timeZone: 'an IANA time zone name such as "America/Denver"',
  postedBy: 'the name of the admin who owns the schedule',
  rootAccountId: 'a decimal Canvas root account id',
  sink: 'file:DIR, s3://bucket/prefix or https://…',
  format: 'one of csv, jsonl, oneroster',
  reconcile: '{courses: [ID, …]} or {account: ID, term: ID (optional)}: what a reconciliation with Canvas reads',
};

/** Fields whose checks word their own message (naming the value), kept as they are. */
const OWN_MESSAGE = new Set(['rootAccountId', 'sink', 'reconcile']);

const canvasId = z.union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]).transform((v) => String(v)).pipe(z.string().regex(/^[0-9]{1,19}$/));

/**
 * A reconciliation with Canvas (SPEC §8), instead of a sync: the courses, or an account's courses (of
 * one term), read from Canvas's REST API at the schedule's hour.
 */
const reconcile = z
  .strictObject({ courses: z.array(canvasId).min(1).optional(), account: canvasId.optional(), term: canvasId.optional() })
  .superRefine((r, ctx) => {
    if ((r.courses !== undefined) === (r.account !== undefined)) ctx.addIssue({ code: 'custom', message: 'give courses or account, not both' });
    if (r.term !== undefined && r.account === undefined) ctx.addIssue({ code: 'custom', message: 'term needs account' });
  });

const rootAccountId = z.unknown().transform((value, ctx) => {
  try {
    const id = readId(value, 'rootAccountId');
    if (id !== null) return id;
  } catch (err) {
    if (!(err instanceof IntakeProblem)) throw err;
    // The parser has already rounded such a number: showing it would mislead.
    const message =
      err.reason === 'unsafe_integer_id'
        ? 'a number above 2^53 − 1 cannot be read exactly: write the id in quotes'
        : err.detail.replace(/^rootAccountId: /, '');
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: `is not ${EXPECTED['rootAccountId']}` });
  return z.NEVER;
});

const sink = z.string().superRefine((value, ctx) => {
  const problem = sinkUrlProblem(value);
  if (problem !== null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)}: ${problem}` });
});

/** One schedule; `defaultTimeZone` is the configured GRADESTREAM_TIME_ZONE (UTC when unset). */
export function scheduleSchema(defaultTimeZone = 'UTC') {
  return z.strictObject({
    id: z.string().regex(SCHEDULE_ID),
    hourOfDay: z.number().int().min(0).max(23),
    timeZone: z
      .string()
      .refine((zone) => IANAZone.isValidZone(zone))
      .default(defaultTimeZone),
    postedBy: z.string().trim().min(1),
    rootAccountId: rootAccountId.optional(),
    /** Overrides GRADESTREAM_SINK_URL for this schedule. */
    sink: sink.optional(),
    format: FeedFormat.default('csv'),
    /** Makes the schedule a reconciliation with Canvas rather than a sync (no sink, format or scope). */
    reconcile: reconcile.optional(),
  }).superRefine((s, ctx) => {
    if (s.reconcile === undefined) return;
    for (const key of ['rootAccountId', 'sink'] as const) {
      if (s[key] !== undefined) ctx.addIssue({ code: 'custom', path: ['reconcile'], message: `a reconciliation sends nothing: ${key} does not apply` });
    }
  });
}

/** What a reconciliation schedule reads. */
export type ReconcileWhat = NonNullable<Schedule['reconcile']>;

/** What a reconciliation reads, as its runs' scope in the history: `courses:1,2`, `account:1`, `account:1/term:7`. */
export function reconcileScope(w: { courses?: readonly string[]; account?: string; term?: string }): string {
  if (w.account !== undefined) return w.term === undefined ? `account:${w.account}` : `account:${w.account}/term:${w.term}`;
  return `courses:${(w.courses ?? []).join(',')}`;
}

export type Schedule = z.output<ReturnType<typeof scheduleSchema>>;

export interface ScheduleFileOptions {
  /** Zone of schedules that name none (config `timeZone`). */
  defaultTimeZone?: string;
  /** Names the file in messages. */
  source?: string;
}

/** Reads and validates a schedules file; throws ConfigError listing every problem. */
export async function loadSchedules(path: string, options: ScheduleFileOptions = {}): Promise<Schedule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read the schedules file (${(err as Error).message})`]);
  }
  return parseSchedules(text, { source: path, ...options });
}

/** Parses and validates schedules file text; throws ConfigError listing every problem. */
export function parseSchedules(text: string, options: ScheduleFileOptions = {}): Schedule[] {
  const source = options.source ?? 'schedules file';
  const problems: string[] = [];
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${source}: ${e.message.split('\n')[0]}`));
  }
  const entries = scheduleList(doc.toJS(), source, problems);
  const schema = scheduleSchema(options.defaultTimeZone);
  const schedules: Schedule[] = [];
  const firstById = new Map<string, number>();
  entries.forEach((entry, index) => {
    const id = idOf(entry);
    const label = `${source}: schedule #${index + 1}${id === undefined ? '' : ` (${JSON.stringify(id)})`}`;
    const parsed = schema.safeParse(withoutNulls(entry));
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${label}: ${describeIssue(issue, entry)}`);
    }
    // Checked on every entry, valid or not, so one pass shows every clash.
    const earlier = id === undefined ? undefined : firstById.get(id);
    if (earlier !== undefined) problems.push(`${label}: id ${JSON.stringify(id)} is already used by schedule #${earlier + 1}`);
    else if (id !== undefined) firstById.set(id, index);
    if (parsed.success) schedules.push(parsed.data);
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return schedules;
}

function scheduleList(value: unknown, source: string, problems: string[]): unknown[] {
  if (Array.isArray(value)) return value;
  if (value !== null && typeof value === 'object') {
    const { schedules, ...rest } = value as Record<string, unknown>;
    for (const key of Object.keys(rest)) problems.push(`${source}: unknown top-level key "${key}" (expected "schedules")`);
    if (Array.isArray(schedules)) return schedules;
    problems.push(`${source}: "schedules" must be a list of schedules`);
    return [];
  }
  problems.push(
    value === null || value === undefined
      ? `${source}: the file is empty (write [] for no schedules)`
      : `${source}: expected a list of schedules or {schedules: [...]}`,
  );
  return [];
}

/** An empty YAML value (`sink:`) is null: treat it as not given, like a missing key. */
function withoutNulls(entry: unknown): unknown {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return entry;
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== null));
}

function idOf(entry: unknown): string | undefined {
  const id = entry !== null && typeof entry === 'object' ? (entry as Record<string, unknown>)['id'] : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function describeIssue(issue: z.core.$ZodIssue, entry: unknown): string {
  if (issue.path.length === 0) {
    if (issue.code === 'unrecognized_keys') {
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (expected ${Object.keys(EXPECTED).join(', ')})`;
    }
    return `expected a mapping of ${Object.keys(EXPECTED).join(', ')}`;
  }
  const key = String(issue.path[0]);
  const value = (entry as Record<string, unknown>)[key];
  if (value === undefined || value === null) return `${key} is required: ${EXPECTED[key]}`;
  if (issue.code === 'custom' && OWN_MESSAGE.has(key)) return `${key}: ${issue.message}`;
  return `${key}: ${JSON.stringify(value)} is not ${EXPECTED[key]}`;
}
