import { Writable } from 'node:stream';
import { main } from '../src/cli/main.js';
import { buildState, changeState, layout } from './sync-state.js';

/**
 * One step of the sync benchmark, in its own process so that a sync's peak RSS is its own:
 *
 *   build STATE_URL TOTAL_KEYS KEYS                        mappings for TOTAL_KEYS keys, rows of the first KEYS
 *   change STATE_URL TOTAL_KEYS EXISTING ADDED UPDATED V   ADDED new keys, UPDATED existing ones to version V
 *   sync STATE_URL SCHEDULES SINK_URL SCHEDULE_ID          exactly `gradestream sync SCHEDULE_ID --as bench --json …`
 *
 * (`node dist-bench/bench/sync-child.js MODE …`.) Prints one JSON line on stdout: {rows, seconds,
 * cpuSeconds, maxRssKiB, entry?}: wall and CPU time (user + system, every thread) of the step only,
 * not Node's start-up; maxRSS is process.resourceUsage().maxRSS (KiB) at exit.
 */

interface StepResult {
  rows: number;
  seconds: number;
  cpuSeconds: number;
  maxRssKiB: number;
  /** the run's history entry (sync) */
  entry?: Record<string, unknown>;
}

const collect = (write: (s: string) => void) =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      write(chunk.toString('utf8'));
      done();
    },
  });

async function sync(stateUrl: string, schedules: string, sinkUrl: string, scheduleId: string): Promise<{ rows: number; entry: Record<string, unknown> }> {
  let out = '';
  let err = '';
  const args = ['sync', scheduleId, '--as', 'bench', '--json', '--state', stateUrl, '--schedules', schedules, '--sink', sinkUrl];
  const code = await main(args, {
    stdin: process.stdin,
    stdout: collect((s) => (out += s)),
    stderr: collect((s) => (err += s)),
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'silent' }, // the bench's settings only
  });
  if (code !== 0) throw new Error(`gradestream sync exited ${code}: ${err.trim()} ${out.trim()}`);
  const entry = JSON.parse(out) as Record<string, unknown>;
  return { rows: entry['rows'] as number, entry };
}

const [mode, url, ...rest] = process.argv.slice(2);
const int = (i: number): number => {
  const n = Number(rest[i]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`sync-child ${mode}: argument ${i + 3} must be a whole number, not ${rest[i]}`);
  return n;
};
if (url === undefined || !['build', 'change', 'sync'].includes(mode ?? '')) {
  console.error('usage: sync-child.js build URL TOTAL KEYS | change URL TOTAL EXISTING ADDED UPDATED VERSION | sync URL SCHEDULES SINK SCHEDULE');
  process.exit(2);
}
const start = process.hrtime.bigint();
const startCpu = process.cpuUsage();
const done: { rows: number; entry?: Record<string, unknown> } =
  mode === 'build'
    ? { rows: await buildState(url, layout(int(0)), int(1)) }
    : mode === 'change'
      ? { rows: await changeState(url, layout(int(0)), int(1), int(2), int(3), int(4)) }
      : await sync(url, rest[0]!, rest[1]!, rest[2]!);
const cpu = process.cpuUsage(startCpu);
const result: StepResult = {
  seconds: Number(process.hrtime.bigint() - start) / 1e9,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  ...done,
  maxRssKiB: process.resourceUsage().maxRSS,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
