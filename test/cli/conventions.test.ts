import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_BATCH_SIZE } from '../../src/cli/replay.js';
import { cli } from '../support/cli.js';
import { gradeChange, line } from '../support/grades.js';

/** SPEC §7.1's conventions every command follows: `--version`, read-only commands, errors under `--json`. */
describe('command-line conventions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradestream-conventions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const state = `sqlite:${join(dir, 'state.db')}`;
  const schedulesFile = join(dir, 'schedules.yaml');
  writeFileSync(schedulesFile, '- {id: nightly, hourOfDay: 2, postedBy: Registrar}\n');
  const env = { GRADESTREAM_STATE_URL: state, GRADESTREAM_SINK_URL: `file:${join(dir, 'outbox')}` };

  it('--version prints the package version, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await cli(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('read-only commands need no schedules file; the history of a schedule gone from the file stays readable', async () => {
    expect((await cli(['replay', '-'], line(gradeChange('2026-03-01T10:00:00Z')), env)).code).toBe(0);
    const synced = await cli(['sync', 'nightly', '--as', 'Ada', '--json', '--schedules', schedulesFile], '', env);
    expect(synced.code).toBe(0);
    const run = JSON.parse(synced.stdout) as { id: string };

    // No schedules file from here on.
    const list = await cli(['runs', 'list', '--json'], '', env);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { runs: { id: string }[] }).runs.map((r) => r.id)).toEqual([run.id]);
    const bySchedule = await cli(['runs', 'list', '--schedule', 'nightly', '--json'], '', env);
    expect((JSON.parse(bySchedule.stdout) as { runs: { schedule: string }[] }).runs.map((r) => r.schedule)).toEqual(['nightly']);
    const show = await cli(['runs', 'show', run.id, '--json'], '', env);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: run.id, status: 'succeeded' });
    expect(await cli(['held', '--json'], '', env)).toMatchObject({ code: 0, stdout: '{"held":[]}\n' });
    const schedules = await cli(['schedules', 'list', '--json'], '', env);
    expect(schedules).toMatchObject({ code: 0, stdout: '{"schedules":[]}\n', stderr: expect.stringMatching(/no schedules defined/) });

    // A command that changes something still needs the file.
    const pause = await cli(['schedules', 'pause', 'nightly', '--as', 'Ada'], '', env);
    expect(pause).toMatchObject({ code: 2, stderr: expect.stringMatching(/no schedules file/) });
  });

  it('says what is wrong with a flag in words, and names --port when the port is taken', async () => {
    expect(await cli(['run', '--port', 'abc'], '', env)).toMatchObject({
      code: 2,
      stderr: 'gradestream: invalid configuration: --port ("abc"): not a port number (0 to 65535)\n',
    });
    const busy = createServer().listen(0, '0.0.0.0');
    await once(busy, 'listening');
    try {
      const port = (busy.address() as AddressInfo).port;
      const r = await cli(['run', '--port', String(port), '--json'], '', { ...env, LOG_LEVEL: 'silent', GRADESTREAM_WEBHOOK_AUTH: 'none' });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`gradestream: port ${port} is in use by another process: choose another with --port N (or GRADESTREAM_HTTP_PORT)\n`);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'PORT_UNAVAILABLE' } });
    } finally {
      busy.close();
    }
  });

  it('run --json prints one document once it is ready, with the port it got', async () => {
    const before = process.listenerCount('SIGTERM');
    const running = cli(['run', '--port', '0', '--json'], '', { ...env, LOG_LEVEL: 'silent', GRADESTREAM_WEBHOOK_AUTH: 'none' });
    // `run` waits for SIGTERM once it is ready: then stop it as a supervisor would.
    for (let i = 0; i < 200 && process.listenerCount('SIGTERM') === before; i++) await new Promise((r) => setTimeout(r, 25));
    process.emit('SIGTERM');
    const r = await running;
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { status: string; port: number; version: string };
    expect(doc).toEqual({ status: 'ready', port: expect.any(Number), version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(doc.port).toBeGreaterThan(0);
  });

  it('help shows the defaults the code uses and which options are required; a dry run needs no --as', async () => {
    expect((await cli(['replay', '--help'])).stdout).toContain(`(default ${DEFAULT_BATCH_SIZE})`);
    expect((await cli(['runs', 'list', '--help'])).stdout).toMatch(/--limit <n> +at most this many \(default 20\)/);
    expect((await cli(['sync', '--help'])).stdout).toMatch(/--as <name> +who is asking, recorded in the history \(required, except\s+with --dry-run\)/);
    expect((await cli(['schedules', 'pause', '--help'])).stdout).toMatch(/--as <name> +who is asking, recorded \(required\)/);

    const dry = await cli(['sync', 'nightly', '--dry-run', '--json', '--schedules', schedulesFile], '', env);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ id: null, status: 'dry_run' });
    const noWho = await cli(['sync', 'nightly', '--schedules', schedulesFile], '', env);
    expect(noWho).toMatchObject({ code: 2, stderr: expect.stringMatching(/required option '--as <name>' not specified/) });
  });

  it('under --json an error is {"error": {"code", "message"}} on stdout, with the same exit code and the reason on stderr', async () => {
    const cases: [string[], number, string][] = [
      [['replay', '--bogus', '--json'], 2, 'USAGE'],
      [['replay', join(dir, 'missing.jsonl'), '--json'], 2, 'INPUT_UNREADABLE'],
      [['sync', 'nightly', '--as', 'Ada', '--json'], 2, 'CONFIG_INVALID'],
      [['runs', 'show', '999999', '--json'], 1, 'NOT_FOUND'],
    ];
    for (const [args, exit, code] of cases) {
      const r = await cli(args, '', env);
      expect({ args, code: r.code }).toEqual({ args, code: exit });
      const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      expect(doc).toEqual({ error: code === 'CONFIG_INVALID' ? { code, message: expect.any(String), problems: [expect.any(String)] } : { code, message: expect.any(String) } });
      expect(r.stderr).toBe(`gradestream: ${doc.error.message}\n`);
    }
    // Several configuration problems: one per line, and listed in the JSON error.
    const bad = await cli(['replay', '-', '--json', '--state', 'sqlite:', '--sink', 'ftp://x'], '', {});
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('gradestream: invalid configuration (2 problems):');
    expect(JSON.parse(bad.stdout).error.problems).toHaveLength(2);
    // Without --json: the reason on stderr only.
    expect(await cli(['replay', '--bogus'])).toEqual({ code: 2, stdout: '', stderr: "gradestream: unknown option '--bogus'\n" });
  });
});
