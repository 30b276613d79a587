import type { Readable, Writable } from 'node:stream';

/** The process streams a command uses; tests pass their own. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

/** Exit codes shared by every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * The one JSON document a command prints under `--json`. The conventions (README "Command line"): an
 * object, never a bare array (lists are named: `{"runs": [...]}`), snake_case keys, ids as strings, times
 * as ISO 8601 UTC; an error is `{"error": {"code", "message"}}`.
 */
export function writeJson<T extends object>(io: CliIo, value: T extends readonly unknown[] ? never : T): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}
