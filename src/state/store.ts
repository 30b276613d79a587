import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../errors.js';
import type { NormalisedEvent } from '../intake/records.js';
import type { QuarantineReason } from '../intake/reasons.js';
import type { Outcome } from './fold.js';
import type { StateKind } from './tables.js';
import type { CourseRows, StudentState } from './view.js';

export type { Outcome } from './fold.js';
export type { StateKind } from './tables.js';
export type { CourseRows, StudentState } from './view.js';

/** Where a message came from; with `position` it says where to find it again. */
export type SourceName = 'replay' | 'sqs' | 'kafka' | 'webhook';

/** An invalid message, kept with everything needed to understand and re-drive it (SPEC §1.4). */
export interface QuarantineEntry {
  source: SourceName;
  /** "events.jsonl:12", an SQS message id, "topic/partition/offset". */
  position: string;
  reason: QuarantineReason;
  detail: string;
  /** The message as received: its text, or its bytes (kept exactly, whether or not they are UTF-8). */
  raw: string | Uint8Array;
  /** epoch milliseconds */
  received_at: number;
}

/**
 * A quarantine entry as listed: `id` orders entries and pages through them; `received_at` is ISO UTC.
 * `raw` is the message as text; when its bytes are not UTF-8 that text shows U+FFFD where they are
 * not, and `raw_base64` holds the exact bytes.
 */
export interface StoredQuarantineEntry extends Omit<QuarantineEntry, 'received_at' | 'raw'> {
  id: string;
  raw: string;
  raw_base64?: string;
  received_at: string;
}

/**
 * A mapping value taught directly rather than by an event (a Canvas provisioning report, a read of
 * Canvas's REST API), folded by the same rule at `instant` (epoch ms): later wins. Ids canonical.
 */
export interface TaughtMapping {
  table: 'student_sis_ids' | 'course_sis_ids' | 'course_root_accounts' | 'assignment_names';
  key: string;
  value: string;
  instant: number;
}

export interface Batch {
  records: readonly NormalisedEvent[];
  /** Mapping values taught directly, folded in the same transaction. */
  mappings?: readonly TaughtMapping[];
  quarantine: readonly QuarantineEntry[];
  /** Quarantine ids re-driven by this batch (their records are among `records`): removed in the same transaction. */
  redriven?: readonly string[];
}

export type StateCounts = Record<StateKind | 'quarantine', number>;

/**
 * The compacted state store (SPEC §2). One contract, two backends (SQLite, PostgreSQL), checked by the
 * same tests.
 */
export interface StateStore {
  /** The store's URL, with any password removed: safe for messages and logs. */
  readonly url: string;
  /**
   * Folds every record and stores every quarantine entry in one transaction; resolves after commit
   * (only then may a source acknowledge its messages). One outcome per record, in input order.
   * Calls are folded in call order, so a caller may start the next batch before this one resolves:
   * each batch's outcomes see the effects of the batches called before it.
   * Throws StoreUnavailableError for a passing failure: nothing was written, redeliver.
   */
  apply(batch: Batch): Promise<Outcome[]>;
  /** A student's state, optionally limited to one course. Ids are decimal strings, instants ISO UTC. */
  inspect(studentId: string, courseId?: string): Promise<StudentState>;
  /** The students (canonical ids) whose SIS id is `sisId`: normally one. */
  studentsWithSisId(sisId: string): Promise<string[]>;
  /** The record rows of one course (assignment scores, course scores, overrides), as stored. */
  courseRows(courseId: string): Promise<CourseRows>;
  /** The names the store knows of these assignments (canonical ids), by id. */
  assignmentNames(ids: readonly string[]): Promise<Map<string, string>>;
  /**
   * The whole state as canonical text, every table sorted by key: byte-identical for the same set of
   * events whatever their order, duplication, batching or backend. Leaves out what depends on arrival
   * rather than on the events: change numbers, quarantine ids and receipt times.
   */
  dump(): Promise<string>;
  /** Quarantined messages in arrival order; `after` is the last id of the previous page. */
  listQuarantine(options: { limit: number; after?: string }): Promise<StoredQuarantineEntry[]>;
  /** Rows per kind, for the `state_records{kind}` gauge. */
  counts(): Promise<StateCounts>;
  /**
   * The Canvas shards of the root accounts the store knows (each global id's digits above its last 13),
   * ascending as numbers: where reconciliation finds the shard of Canvas's local ids (SPEC §8).
   */
  shards(): Promise<string[]>;
  /**
   * The highest change number (`seq`) below which every change is committed: rows with a seq above a
   * previous watermark and at most this one are exactly the changes since then. Decimal string.
   */
  changeWatermark(): Promise<string>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Fail instead of creating an SQLite file that does not exist (read-only commands). */
  mustExist?: boolean;
}

/** Opens `sqlite:PATH` (parent directories created; `sqlite::memory:` for tests) or `postgres://…`. */
export async function openStore(url: string, options: OpenOptions = {}): Promise<StateStore> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path === '') throw new ConfigError(['state URL: sqlite: needs a path (sqlite:PATH)']);
    if (path !== ':memory:' && !options.mustExist) mkdirSync(dirname(path), { recursive: true });
    const { openSqliteStore } = await import('./sqlite.js');
    return openSqliteStore(path, options);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(url);
  }
  throw new ConfigError([`state URL ${JSON.stringify(url)}: expected sqlite:PATH or postgres://…`]);
}
