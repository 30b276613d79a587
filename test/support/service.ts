import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCli } from './build.js';

export interface RunningService {
  base: string;
  dir: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Everything the process wrote on stderr so far (its log). */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * `gradestream run` as a real child process on a private SQLite store and file outbox, with one
 * schedule (`nightly`) and one admin token (`adm`, name `ada`). Port 0: the port is read from the JSON `listening` log line.
 */
export async function startRunProcess(env: NodeJS.ProcessEnv = {}, options: { dir?: string } = {}): Promise<RunningService> {
  const cli = await buildCli();
  // A directory the caller gives (a restart on the same store) stays the caller's to remove.
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gradestream-run-'));
  writeFileSync(join(dir, 'schedules.yaml'), '- {id: nightly, hourOfDay: 2, timeZone: America/Denver, postedBy: Registrar}\n');
  writeFileSync(join(dir, 'tokens.yaml'), '- {name: ada, role: admin, token: adm}\n- {name: vic, role: viewer, token: view}\n');
  const child = spawn(process.execPath, [cli.runner, 'run', '--port', '0', '--state', `sqlite:${join(dir, 'state.db')}`], {
    env: {
      ...process.env,
      GRADESTREAM_SCHEDULES_FILE: join(dir, 'schedules.yaml'),
      GRADESTREAM_SINK_URL: `file:${join(dir, 'outbox')}`,
      GRADESTREAM_ADMIN_TOKENS_FILE: join(dir, 'tokens.yaml'),
      GRADESTREAM_WEBHOOK_SECRET: 's3cret',
      LOG_LEVEL: 'info', // the port is read from the `listening` line
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  const port = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`gradestream run exited: ${stderr}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if ((await fetch(`${base}/readyz`)).status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    dir,
    child,
    exited,
    logs: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      cli.remove();
      if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
