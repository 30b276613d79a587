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
  const dir = await compile('tsconfig.build.json', join('cli', 'main.js'));
  const runner = join(dir, 'gradestream.mjs');
  writeFileSync(runner, `import { main } from './dist/cli/main.js';\nprocess.exitCode = await main(process.argv.slice(2));\n`);
  return { runner, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Builds the benchmarks (tsconfig.bench.json) the same way; `main` is bench/run.js, run as `node main SECTION`. */
export async function buildBench(): Promise<{ main: string; remove(): void }> {
  const dir = await compile('tsconfig.bench.json', join('bench', 'run.js'));
  return { main: join(dir, 'dist', 'bench', 'run.js'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles a project into a private directory's dist/; fails unless `expected` (under dist/) was emitted. */
async function compile(project: string, expected: string): Promise<string> {
  const dir = join(root, '.cache', `test-build-${process.pid}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  // Type errors elsewhere do not stop tsc from emitting; the check below is that the entry point was emitted.
  await promisify(execFile)(process.execPath, [tsc, '-p', join(root, project), '--outDir', join(dir, 'dist')], {
    cwd: root,
  }).catch(() => undefined);
  if (!existsSync(join(dir, 'dist', expected))) throw new Error(`building ${project} into ${dir} failed`);
  return dir;
}
