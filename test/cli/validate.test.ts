import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { fixtureText, variant } from '../support/events.js';

const dir = mkdtempSync(join(tmpdir(), 'gradestream-validate-'));
const file = (name: string, lines: string[]) => {
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
};

const good = file('good.jsonl', [
  fixtureText('grade_change'),
  '',
  fixtureText('course_grade_change'),
  fixtureText('grade_override'),
  JSON.stringify({ metadata: { event_name: 'submission_created' }, body: { assignment_id: '1', submission_id: '2' } }),
]);

const bad = file('bad.jsonl', [
  fixtureText('grade_change'),
  '{"metadata":',
  JSON.stringify(variant('grade_change', { metadata: { event_time: '2019-11-01T19:11:05' } })),
  JSON.stringify(variant('course_grade_change', { body: { current_score: 'high' } })),
]);

describe('gradestream validate', () => {
  it('exits 0 when every line is valid or ignored, and summarises', async () => {
    const r = await cli(['validate', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${good}:5: ignored: event_name submission_created`);
    expect(r.stdout).toContain('4 received: 3 valid (1 grade_change, 1 course_grade_change, 1 grade_override), 1 ignored, 0 quarantined');
  });

  it('exits 1 when a line is quarantined, naming line, reason and field', async () => {
    const r = await cli(['validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${bad}:2: quarantined: malformed_json:`);
    expect(r.stdout).toContain(`${bad}:3: quarantined: timestamp_without_offset: metadata.event_time: "2019-11-01T19:11:05"`);
    expect(r.stdout).toContain(`${bad}:4: quarantined: invalid_field: body.current_score: "high"`);
    expect(r.stdout).toContain('4 received: 1 valid (1 grade_change), 0 ignored, 3 quarantined');
  });

  it('--json prints one document with counts and the non-valid lines', async () => {
    const r = await cli(['validate', '--json', good, bad]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ received: 8, valid: 4, ignored: 1, quarantined: 3 });
    expect(doc.quarantined_by_reason).toEqual({ malformed_json: 1, timestamp_without_offset: 1, invalid_field: 1 });
    expect(doc.lines).toContainEqual({ file: bad, line: 4, verdict: 'quarantined', reason: 'invalid_field', detail: 'body.current_score: "high" is not a finite number' });
    expect(doc.lines).toContainEqual({ file: good, line: 5, verdict: 'ignored', event_name: 'submission_created' });
  });

  it('reads stdin for -', async () => {
    const r = await cli(['validate', '--json', '-'], `${fixtureText('grade_change')}\r\n{oops\r\n`);
    expect(JSON.parse(r.stdout)).toMatchObject({ received: 2, valid: 1, quarantined: 1, lines: [{ file: 'stdin', line: 2, reason: 'malformed_json' }] });
  });

  it.each([
    [['validate'], /missing required argument/],
    [['validate', '--nope', good], /unknown option '--nope'/],
    [['validate', join(dir, 'absent.jsonl')], /cannot read .*absent\.jsonl: ENOENT/],
    [['validate', dir], /cannot read .*: it is a directory/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('exits 2 with a one-line reason for %j', async (args, reason) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(reason);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('the built bin validates the bundled sample', async () => {
    const { stdout } = await promisify(execFile)('node', ['bin/gradestream.js', 'validate', 'samples/canvas-grade-events.jsonl']);
    expect(stdout).toMatch(/7 received: 6 valid .*, 1 ignored, 0 quarantined/);
  });
});
