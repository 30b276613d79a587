import { classify } from './classify.js';
import { readBoolean, readGrade, readName, readScore, readSisId, readString, required } from './fields.js';
import { canonicalId, readId, shardOf, type RawDigitsLookup } from './ids.js';
import type {
  CourseGradeChangeRecord,
  EventKind,
  GradeChangeRecord,
  GradeOverrideRecord,
  NormalisedEvent,
} from './records.js';
import { IntakeProblem, show } from './reasons.js';
import { keyCount } from './keys.js';
import { parseInstant } from './timestamps.js';

type Json = Record<string, unknown>;

/** What every grade event shares, read from metadata (SPEC §1.3). */
interface Context {
  shard: string | null;
  eventTime: number;
  updatedAt: number | null;
  rootAccountId: string | null;
  /** canonical context_id when context_type is "Course" */
  contextCourseId: string | null;
  contextSisId: string | null;
  raw: RawDigitsLookup | undefined;
  /** The message as received, when it was JSON text (not an Avro value). */
  text: string | undefined;
}

function readContext(metadata: Json, body: Json, raw: RawDigitsLookup | undefined, text: string | undefined): Context {
  const contextId = readId(metadata['context_id'], 'metadata.context_id', raw);
  const rootAccount = readId(metadata['root_account_id'], 'metadata.root_account_id', raw);
  // The shard of local ids: from a global context_id, else from a global root_account_id.
  const shard = shardOf(contextId) ?? shardOf(rootAccount);
  const contextType = readString(metadata['context_type'], 'metadata.context_type');
  const eventTime = parseInstant(
    required(metadata['event_time'] ?? null, 'metadata.event_time'),
    'metadata.event_time',
  );
  const updated = body['updated_at'];
  return {
    shard,
    eventTime,
    updatedAt: updated === undefined || updated === null ? null : parseInstant(updated, 'body.updated_at'),
    rootAccountId: rootAccount === null ? null : canonicalId(rootAccount, shard, 'metadata.root_account_id'),
    contextCourseId:
      contextType === 'Course' && contextId !== null
        ? canonicalId(contextId, shard, 'metadata.context_id')
        : null,
    contextSisId: readSisId(metadata['context_sis_source_id'], 'metadata.context_sis_source_id'),
    raw,
    text,
  };
}

function id(ctx: Context, body: Json, key: string): string | null {
  const path = `body.${key}`;
  const value = readId(body[key], path, ctx.raw);
  return value === null ? null : canonicalId(value, ctx.shard, path);
}

function courseSisId(ctx: Context, courseId: string | null): string | null {
  return courseId !== null && ctx.contextCourseId === courseId ? ctx.contextSisId : null;
}

function gradeChange(ctx: Context, body: Json): GradeChangeRecord {
  // Validate the previous values too: they are scores by the contract, and junk there means a broken feed.
  readScore(body['old_score'], 'body.old_score');
  readScore(body['old_points_possible'], 'body.old_points_possible');
  readGrade(body['old_grade'], 'body.old_grade');
  const studentId = id(ctx, body, 'student_id') ?? id(ctx, body, 'user_id');
  const courseId = ctx.contextCourseId;
  return {
    kind: 'grade_change',
    instant: ctx.eventTime,
    event_time: ctx.eventTime,
    root_account_id: ctx.rootAccountId,
    course_id: courseId,
    course_sis_id: courseSisId(ctx, courseId),
    student_id: required(studentId, 'body.student_id'),
    assignment_id: required(id(ctx, body, 'assignment_id'), 'body.assignment_id'),
    submission_id: id(ctx, body, 'submission_id'),
    student_sis_id: readSisId(body['student_sis_id'], 'body.student_sis_id'),
    score: readScore(body['score'], 'body.score'),
    grade: readGrade(body['grade'], 'body.grade'),
    points_possible: readScore(body['points_possible'], 'body.points_possible'),
    grading_complete: readBoolean(body['grading_complete'], 'body.grading_complete'),
    // Fail safe: only an explicit false, written once, means posted.
    muted: readBoolean(body['muted'], 'body.muted') !== false || (ctx.text !== undefined && keyCount(ctx.text, 'muted') !== 1),
    grader_id: id(ctx, body, 'grader_id'),
    assignment_name: readName(body['assignment_name']),
  };
}

const OLD_COURSE_SCORES = [
  'old_current_score',
  'old_final_score',
  'old_unposted_current_score',
  'old_unposted_final_score',
] as const;

function courseGradeChange(ctx: Context, body: Json): CourseGradeChangeRecord {
  for (const key of OLD_COURSE_SCORES) readScore(body[key], `body.${key}`);
  const state = readString(body['workflow_state'], 'body.workflow_state') ?? 'active';
  if (state !== 'active' && state !== 'deleted') {
    throw new IntakeProblem('invalid_field', `body.workflow_state: ${show(state)} is not "active" or "deleted"`);
  }
  const courseId = required(id(ctx, body, 'course_id'), 'body.course_id');
  return {
    kind: 'course_grade_change',
    instant: ctx.updatedAt ?? ctx.eventTime,
    event_time: ctx.eventTime,
    root_account_id: ctx.rootAccountId,
    course_id: courseId,
    course_sis_id: courseSisId(ctx, courseId),
    student_id: required(id(ctx, body, 'user_id'), 'body.user_id'),
    current_score: readScore(body['current_score'], 'body.current_score'),
    final_score: readScore(body['final_score'], 'body.final_score'),
    unposted_current_score: readScore(body['unposted_current_score'], 'body.unposted_current_score'),
    unposted_final_score: readScore(body['unposted_final_score'], 'body.unposted_final_score'),
    workflow_state: state,
  };
}

function gradeOverride(ctx: Context, body: Json): GradeOverrideRecord {
  readScore(body['old_override_score'], 'body.old_override_score');
  id(ctx, body, 'score_id');
  id(ctx, body, 'enrollment_id');
  const courseId = required(id(ctx, body, 'course_id'), 'body.course_id');
  return {
    kind: 'grade_override',
    instant: ctx.updatedAt ?? ctx.eventTime,
    event_time: ctx.eventTime,
    root_account_id: ctx.rootAccountId,
    course_id: courseId,
    course_sis_id: courseSisId(ctx, courseId),
    student_id: required(id(ctx, body, 'user_id'), 'body.user_id'),
    grading_period_id: id(ctx, body, 'grading_period_id'),
    override_score: readScore(body['override_score'], 'body.override_score'),
  };
}

const NORMALISERS: Record<EventKind, (ctx: Context, body: Json) => NormalisedEvent> = {
  grade_change: gradeChange,
  course_grade_change: courseGradeChange,
  grade_override: gradeOverride,
};

export type Classified = { kind: EventKind; record: NormalisedEvent } | { ignored: string };

/** Classifies and normalises one Canvas envelope; throws IntakeProblem for an invalid grade event. */
export function normalise(metadata: Json, body: Json, raw?: RawDigitsLookup, text?: string): Classified {
  const c = classify(metadata, body);
  if ('ignored' in c) return c;
  const ctx = readContext(metadata, body, raw, text);
  return { kind: c.kind, record: NORMALISERS[c.kind](ctx, body) };
}
