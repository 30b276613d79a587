import type { Config } from '../config.js';
import { ConfigError, UsageError } from '../errors.js';
import { IntakeProblem } from '../intake/reasons.js';
import { parseInstant } from '../intake/timestamps.js';
import { openStore } from '../state/store.js';
import { reconcilerFromConfig } from '../reconcile/schedule.js';
import { SyncEngine, type HistoryEntry } from '../sync/engine.js';
import { loadSchedules, type Schedule } from '../sync/schedules.js';
import type { CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

/** Options every sync command takes (SPEC §7.1); flags win over the environment. */
export type SyncCliOptions = SharedOptions;

export async function schedulesOf(config: Config): Promise<Schedule[]> {
  if (config.schedulesFile === undefined) {
    throw new ConfigError(['no schedules file: set GRADESTREAM_SCHEDULES_FILE or pass --schedules FILE']);
  }
  return loadSchedules(config.schedulesFile, { defaultTimeZone: config.timeZone });
}

/**
 * Opens the store and the sync engine for one command, and closes the store afterwards. A read-only
 * command (the history, held rows, the schedules list) needs no schedules file (SPEC §7.1): what it
 * shows comes from the store; without the file no schedule is defined.
 */
export async function withEngine<T>(
  opts: SyncCliOptions,
  io: CliIo,
  work: (engine: SyncEngine) => Promise<T>,
  options: { readOnly?: boolean } = {},
): Promise<T> {
  const config = commandConfig(opts, io);
  const schedules = options.readOnly && config.schedulesFile === undefined ? [] : await schedulesOf(config);
  const store = await openStore(config.stateUrl);
  try {
    const engine = await SyncEngine.open({ state: store, schedules, sinkUrl: config.sinkUrl, reconciler: reconcilerFromConfig(config, { store }) });
    try {
      return await work(engine);
    } finally {
      await engine.close();
    }
  } finally {
    await store.close();
  }
}

/** `--now`/`--after`: an ISO 8601 date-time with an offset (the strict intake parser). */
export function instantOption(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return parseInstant(value, flag);
  } catch (err) {
    if (err instanceof IntakeProblem) throw new UsageError(`${err.detail} (expected e.g. 2026-03-08T09:00:00Z)`);
    throw err;
  }
}

export function positiveInt(flag: string, value: string | undefined, fallback: number, max = 100_000): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a whole number from 1 to ${max}`);
  }
  return n;
}

const counts = (o: Record<string, number>): string =>
  Object.entries(o)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

/** One line per run, for humans. */
export function describeRun(e: HistoryEntry): string {
  const who = `${e.trigger} by ${e.triggered_by}`;
  const head = `${e.id === null ? 'dry run' : `run ${e.id}`} of ${e.schedule} (${who}${e.scheduled_for === null ? '' : `, for ${e.scheduled_for}`}): ${e.status}`;
  if (e.status === 'skipped') return `${head} (schedule suspended)`;
  const rows = [
    ...(['assignment', 'course'] as const).flatMap((t) =>
      (['upsert', 'delete'] as const).filter((op) => e.rows_by[t][op] > 0).map((op) => `${e.rows_by[t][op]} ${t} ${op}`),
    ),
  ];
  const held = counts(e.held);
  const parts = [
    `${e.rows} row${e.rows === 1 ? '' : 's'}${rows.length === 0 ? '' : ` (${rows.join(', ')})`}`,
    `held ${held === '' ? '0' : held}`,
  ];
  if (e.batch !== null) parts.push(`batch ${e.batch}`);
  if (e.error !== null) parts.push(`error: ${e.error}`);
  return `${head}; ${parts.join('; ')}`;
}
