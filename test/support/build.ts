import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = new URL('../../', import.meta.url).pathname;

/**
 * Builds the CLI (tsconfig.build.json) into a private directory for tests that need real separate
 * processes, and returns a runner script: `node RUNNER replay …`. Private, so that test files building
 * at the same time, or a benchmark using dist/, never see each other's half-written output. It lives
 * under the repository (.cache/) so that node_modules resolves.
 */
export async function buildCli(): Promise<{ runner: string; remove(): void }> {
  const dir = join(root, '.cache', `test-build-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  // Type errors elsewhere do not stop tsc from emitting; the check below is that the CLI was emitted.
  await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], {
    cwd: root,
  }).catch(() => undefined);
  if (!existsSync(join(dir, 'dist', 'cli', 'main.js'))) throw new Error(`building the CLI into ${dir} failed`);
  const runner = join(dir, 'gradestream.mjs');
  writeFileSync(runner, `import { main } from './dist/cli/main.js';\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  return { runner, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
