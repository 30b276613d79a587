import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { cli } from '../support/cli.js';
import { gradeChange, line } from '../support/grades.js';

/** SPEC §7.2: an invalid configuration stops the process at start with every problem listed. */
const problems = (env: NodeJS.ProcessEnv, flags: Parameters<typeof loadConfig>[1] = {}): readonly string[] => {
  try {
    loadConfig(env, flags);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('loadConfig', () => {
  it('lists every problem at once: each setting, and the rules between settings', () => {
    expect(
      problems({
        GRADESTREAM_HTTP_PORT: 'abc',
        GRADESTREAM_STATE_URL: 'sqlite:',
        GRADESTREAM_SQS_QUEUE_URL: 'notaurl',
        GRADESTREAM_KAFKA_BROKERS: 'localhost:9092',
        GRADESTREAM_KAFKA_SASL_USERNAME: 'u',
        GRADESTREAM_WEBHOOK_AUTH: 'secret',
      }),
    ).toEqual([
      'GRADESTREAM_STATE_URL ("sqlite:"): sqlite: needs a path (sqlite:PATH)',
      expect.stringMatching(/^GRADESTREAM_HTTP_PORT \("abc"\): /),
      expect.stringMatching(/^GRADESTREAM_SQS_QUEUE_URL \("notaurl"\): /),
      'GRADESTREAM_KAFKA_TOPICS: required when GRADESTREAM_KAFKA_BROKERS is set',
      'GRADESTREAM_KAFKA_SASL_MECHANISM, GRADESTREAM_KAFKA_SASL_USERNAME and GRADESTREAM_KAFKA_SASL_PASSWORD: set all three for SASL, or none',
      'GRADESTREAM_WEBHOOK_AUTH=secret needs GRADESTREAM_WEBHOOK_SECRET',
    ]);
  });

  it('checks the rules between settings when every setting is valid on its own', () => {
    expect(problems({ GRADESTREAM_KAFKA_TOPICS: 'grades', GRADESTREAM_KAFKA_DLQ_TOPIC: 'grades' })).toEqual([
      'GRADESTREAM_KAFKA_BROKERS: required when GRADESTREAM_KAFKA_TOPICS is set',
      'GRADESTREAM_KAFKA_DLQ_TOPIC: must not be one of the topics read',
    ]);
    expect(problems({ GRADESTREAM_WEBHOOK_AUTH: 'jwt', GRADESTREAM_WEBHOOK_ISSUER: 'https://canvas' })).toEqual([
      'GRADESTREAM_WEBHOOK_AUTH=jwt needs GRADESTREAM_WEBHOOK_JWKS_URL',
    ]);
    expect(problems({ GRADESTREAM_KAFKA_BROKERS: 'b:9092', GRADESTREAM_KAFKA_TOPICS: 'grades', GRADESTREAM_WEBHOOK_SECRET: 'x' })).toEqual([]);
  });

  it('names the flag a bad value came from, else the variable; never echoes a secret', () => {
    expect(problems({ GRADESTREAM_STATE_URL: 'sqlite:/ok.db' }, { stateUrl: 'bogus:xx', sinkUrl: 'ftp://x' })).toEqual([
      '--state ("bogus:xx"): expected sqlite:PATH or postgres://…',
      expect.stringMatching(/^--sink \("ftp:\/\/x"\): /),
    ]);
    expect(problems({ GRADESTREAM_SINK_URL: 'ftp://x' })).toEqual([expect.stringMatching(/^GRADESTREAM_SINK_URL \("ftp:\/\/x"\): /)]);
    const sasl = problems({ GRADESTREAM_KAFKA_SASL_PASSWORD: 'hunter2', GRADESTREAM_KAFKA_SASL_MECHANISM: 'md5' });
    expect(sasl).toHaveLength(2);
    expect(sasl.join('\n')).not.toContain('hunter2');
  });

  it('reads the HTTP boundary settings: session secret (never echoed), public URL, trusted proxies', () => {
    const config = loadConfig({
      GRADESTREAM_SESSION_SECRET: 'k'.repeat(32),
      GRADESTREAM_PUBLIC_URL: 'https://grades.example.edu',
      GRADESTREAM_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8',
    });
    expect(config).toMatchObject({ sessionSecret: 'k'.repeat(32), publicUrl: 'https://grades.example.edu', trustedProxies: ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8'] });
    const bad = problems({ GRADESTREAM_SESSION_SECRET: 'short-secret', GRADESTREAM_PUBLIC_URL: 'ftp://x', GRADESTREAM_TRUSTED_PROXIES: '10.0.0.0/33,nope' });
    expect(bad).toEqual([
      'GRADESTREAM_SESSION_SECRET: at least 32 characters',
      expect.stringMatching(/^GRADESTREAM_PUBLIC_URL \("ftp:\/\/x"\): expected an http/),
      expect.stringMatching(/^GRADESTREAM_TRUSTED_PROXIES .*"10\.0\.0\.0\/33" is not an IP address or CIDR block/),
      expect.stringMatching(/^GRADESTREAM_TRUSTED_PROXIES .*"nope" is not/),
    ]);
    expect(bad.join('\n')).not.toContain('short-secret');
  });
});

describe('the shared options (SPEC §7.1: --state, --schedules, --sink)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gradestream-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const events = join(dir, 'events.jsonl');
  writeFileSync(events, line(gradeChange('2026-03-01T00:00:00Z', { score: 4 })) + '\n');
  const schedules = join(dir, 'schedules.yaml');
  writeFileSync(schedules, '- {id: nightly, hourOfDay: 2, postedBy: Registrar}\n');
  const shared = ['--state', `sqlite:${join(dir, 'state.db')}`, '--schedules', schedules, '--sink', `file:${join(dir, 'outbox')}`];

  it('are taken by every command, whether it uses them or not', async () => {
    const lines: string[][] = [
      ['replay', events, '--json'],
      ['validate', events, '--json'],
      ['inspect', '--student', '21070000000000001', '--json'],
      ['quarantine', 'list', '--json'],
      ['quarantine', 'redrive', '--json'],
      ['schedules', 'list', '--json'],
      ['schedules', 'next', 'nightly', '--json'],
      ['runs', 'list', '--json'],
      ['held', '--json'],
    ];
    for (const args of lines) {
      const r = await cli([...args, ...shared]);
      expect([args.join(' '), r.code, r.stderr]).toEqual([args.join(' '), 0, '']);
      expect(() => JSON.parse(r.stdout), args.join(' ')).not.toThrow();
    }
  });

  it('are checked by every command, used or not: a bad --sink stops replay (exit 2, one line)', async () => {
    const r = await cli(['replay', events, '--state', `sqlite:${join(dir, 'other.db')}`, '--sink', 'ftp://x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^gradestream: invalid configuration: --sink \("ftp:\/\/x"\): [^\n]+\n$/);
  });
});
