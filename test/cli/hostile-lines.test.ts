import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/state/store.js';
import { cli } from '../support/cli.js';
import { fixtureText } from '../support/events.js';
import { IDS } from '../support/grades.js';

/**
 * Issue 13: lines that stopped replay and validate (a score nested 5,000 deep), or were repaired
 * (bytes that are not UTF-8), or skipped as blank with no verdict (a no-break space). Each gets a
 * verdict with its line number, and the lines after it go on.
 */
const dir = mkdtempSync(join(tmpdir(), 'gradestream-hostile-lines-'));

const gc = fixtureText('grade_change');
const deep = gc.replace('"score":5', `"score":${'['.repeat(5000)}1${']'.repeat(5000)}`);
const at = gc.indexOf('"grade":"5"') + 9;
const badBytes = Buffer.concat([Buffer.from(gc.slice(0, at)), Buffer.from([0xc0, 0xaf]), Buffer.from(gc.slice(at))]);
const ignored = (name: string) => JSON.stringify({ metadata: { event_name: name }, body: {} });
const lines: Buffer[] = [
  Buffer.from(`\ufeff${ignored('submission_created')}`), // 1: a BOM before the first line is not part of it
  Buffer.from(deep), // 2: invalid_field, not a crash
  badBytes, // 3: invalid_utf8, bytes kept
  Buffer.from('\u00a0'), // 4: a no-break space is not blank
  Buffer.from('\u2028'), // 5
  Buffer.from('\ufeff'), // 6: a BOM in the middle of a file is not skipped
  Buffer.from('  \t '), // 7: blank
  Buffer.from(ignored('__proto__')), // 8
  Buffer.from(ignored('valueOf')), // 9
  Buffer.from(ignored('constructor')), // 10
  Buffer.from(ignored('toString')), // 11
  Buffer.from(fixtureText('course_grade_change')), // 12: valid, after all of the above
  Buffer.from(gc), // 13: valid
];
const file = join(dir, 'hostile.jsonl');
writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')])));

describe('hostile lines in replay and validate', () => {
  it('validate gives each line one verdict with its number, and its counts keep every event name', async () => {
    const r = await cli(['validate', '--json', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ received: 12, valid: 2, ignored: 5, quarantined: 5 });
    const verdicts = Object.fromEntries(doc.lines.map((l: { line: number; reason?: string; event_name?: string }) => [l.line, l.reason ?? l.event_name]));
    expect(verdicts).toEqual({
      1: 'submission_created',
      2: 'invalid_field',
      3: 'invalid_utf8',
      4: 'malformed_json',
      5: 'malformed_json',
      6: 'malformed_json',
      8: '__proto__',
      9: 'valueOf',
      10: 'constructor',
      11: 'toString',
    });
    // (A literal {__proto__: 1} would set a prototype: the expected counts are JSON too.)
    expect(doc.ignored_by_event).toEqual(JSON.parse('{"submission_created":1,"__proto__":1,"valueOf":1,"constructor":1,"toString":1}'));
    expect(r.stdout).toContain('"ignored_by_event":{"submission_created":1,"__proto__":1,"valueOf":1,"constructor":1,"toString":1}');
    expect(doc.quarantined_by_reason).toEqual({ invalid_field: 1, invalid_utf8: 1, malformed_json: 3 });
  });

  it('replay folds past them, and the quarantine keeps the bad line exactly', async () => {
    const state = `sqlite:${join(dir, 'state.db')}`;
    const r = await cli(['replay', '--json', file, '--state', state]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ received: 12, applied: 2, stale: 0, duplicate: 0, ignored: 5, quarantined: 5 });
    const store = await openStore(state);
    try {
      const entries = await store.listQuarantine({ limit: 10 });
      expect(entries.map((e) => [e.position, e.reason])).toEqual([
        [`${file}:2`, 'invalid_field'],
        [`${file}:3`, 'invalid_utf8'],
        [`${file}:4`, 'malformed_json'],
        [`${file}:5`, 'malformed_json'],
        [`${file}:6`, 'malformed_json'],
      ]);
      expect(Buffer.from(entries[1]!.raw_base64!, 'base64').equals(badBytes)).toBe(true);
      expect(entries[0]!.raw).toBe(deep);
      expect((await store.inspect(IDS.gcStudent)).assignment_scores).toHaveLength(1);
    } finally {
      await store.close();
    }
    // A re-drive reads the bytes as received: still not UTF-8.
    const redrive = await cli(['quarantine', 'redrive', '--json', '--reason', 'invalid_utf8', '--state', state]);
    expect(JSON.parse(redrive.stdout)).toMatchObject({ examined: 1, still_quarantined: 1 });
  });

  it('stdin bytes that are not UTF-8 are named by their line', async () => {
    const r = await cli(['validate', '-'], Buffer.concat([Buffer.from(`${gc}\n`), badBytes, Buffer.from('\n')]));
    expect(r.stdout).toContain('stdin:2: quarantined: invalid_utf8: byte');
  });

  it('an event from a clock years ahead is quarantined, and the bound is a setting', async () => {
    const ahead = gc.replace('2019-11-01T19:11:05.222Z', '2099-01-01T00:00:00Z');
    const r = await cli(['validate', '-'], `${ahead}\n`);
    expect(r.stdout).toContain('stdin:1: quarantined: future_timestamp: metadata.event_time: 2099-01-01T00:00:00.000Z');
    const allowed = await cli(['validate', '-'], `${ahead}\n`, { GRADESTREAM_MAX_FUTURE_SECONDS: String(100 * 365 * 86_400) });
    expect(allowed.code).toBe(0);
    expect((await cli(['validate', '-'], '', { GRADESTREAM_MAX_FUTURE_SECONDS: 'soon' })).stderr).toMatch(/GRADESTREAM_MAX_FUTURE_SECONDS/);
  });
});
