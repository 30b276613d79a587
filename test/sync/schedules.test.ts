import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadSchedules, parseSchedules } from '../../src/sync/schedules.js';

function problemsOf(text: string, options = {}): readonly string[] {
  try {
    parseSchedules(text, { source: 'schedules.yaml', ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('schedules file', () => {
  it('reads YAML with defaults applied', () => {
    const yaml = `
schedules:
  - id: nightly
    hourOfDay: 2
    timeZone: America/Denver
    postedBy: Ada Admin
  - id: east-campus
    hourOfDay: 0
    postedBy: "  Grace  "
    rootAccountId: "10000000000001"
    sink: https://sis.example.edu/grades
    format: oneroster
`;
    expect(parseSchedules(yaml, { defaultTimeZone: 'Europe/London' })).toEqual([
      { id: 'nightly', hourOfDay: 2, timeZone: 'America/Denver', postedBy: 'Ada Admin', format: 'csv' },
      {
        id: 'east-campus',
        hourOfDay: 0,
        timeZone: 'Europe/London',
        postedBy: 'Grace',
        rootAccountId: '10000000000001',
        sink: 'https://sis.example.edu/grades',
        format: 'oneroster',
      },
    ]);
  });

  it('reads JSON, as a bare list, defaulting the zone to UTC', () => {
    const json = JSON.stringify([{ id: 'a', hourOfDay: 23, postedBy: 'x', rootAccountId: 7, sink: null }]);
    expect(parseSchedules(json)).toEqual([{ id: 'a', hourOfDay: 23, timeZone: 'UTC', postedBy: 'x', rootAccountId: '7', format: 'csv' }]);
  });

  it('accepts an empty list', () => {
    expect(parseSchedules('[]')).toEqual([]);
    expect(parseSchedules('schedules: []')).toEqual([]);
  });

  it('lists every problem at once', () => {
    const yaml = `
- id: nightly
  hourOfDay: 24
  timeZone: Mars/Olympus_Mons
  postedBy: Ada
- id: nightly
  hourOfDay: 3
  postedBy: Bob
- id: "bad id!"
  hourOfDay: 2.5
- id: scoped
  hourOfDay: "6"
  postedBy: Cy
  rootAccountId: 12345678901234567890
  sink: http://sis.example.edu/in
  format: xml
  hourofday: 6
- just a string
`;
    expect(problemsOf(yaml)).toEqual([
      'schedules.yaml: schedule #1 ("nightly"): hourOfDay: 24 is not a whole hour from 0 to 23',
      'schedules.yaml: schedule #1 ("nightly"): timeZone: "Mars/Olympus_Mons" is not an IANA time zone name such as "America/Denver"',
      'schedules.yaml: schedule #2 ("nightly"): id "nightly" is already used by schedule #1',
      expect.stringMatching(/^schedules\.yaml: schedule #3 \("bad id!"\): id: "bad id!" is not an id of letters/),
      'schedules.yaml: schedule #3 ("bad id!"): hourOfDay: 2.5 is not a whole hour from 0 to 23',
      'schedules.yaml: schedule #3 ("bad id!"): postedBy is required: the name of the admin who owns the schedule',
      'schedules.yaml: schedule #4 ("scoped"): hourOfDay: "6" is not a whole hour from 0 to 23',
      'schedules.yaml: schedule #4 ("scoped"): rootAccountId: a number above 2^53 − 1 cannot be read exactly: write the id in quotes',
      'schedules.yaml: schedule #4 ("scoped"): sink: "http://sis.example.edu/in": plain http:// is allowed only to localhost; use https://',
      'schedules.yaml: schedule #4 ("scoped"): format: "xml" is not one of csv, jsonl, oneroster',
      'schedules.yaml: schedule #4 ("scoped"): unknown key "hourofday" (expected id, hourOfDay, timeZone, postedBy, rootAccountId, sink, format, reconcile)',
      expect.stringMatching(/^schedules\.yaml: schedule #5: expected a mapping of id, hourOfDay/),
    ]);
  });

  it('reports a missing postedBy and id', () => {
    expect(problemsOf('[{hourOfDay: 1}]')).toEqual([
      expect.stringMatching(/schedule #1: id is required/),
      expect.stringMatching(/schedule #1: postedBy is required/),
    ]);
  });

  it('reports file-level problems', () => {
    expect(problemsOf('')).toEqual(['schedules.yaml: the file is empty (write [] for no schedules)']);
    expect(problemsOf('42')).toEqual(['schedules.yaml: expected a list of schedules or {schedules: [...]}']);
    expect(problemsOf('schedules: 3\nextra: 1')).toEqual([
      'schedules.yaml: unknown top-level key "extra" (expected "schedules")',
      'schedules.yaml: "schedules" must be a list of schedules',
    ]);
    const syntax = problemsOf('- id: a\n  hourOfDay: [1\n');
    expect(syntax.length).toBeGreaterThan(0);
    expect(syntax[0]).toMatch(/^schedules\.yaml: .*line/i);
    expect(problemsOf('{"id": "a", "id": "b"}')[0]).toMatch(/unique/i);
  });

  it('loads a file, and says when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gradestream-schedules-'));
    const path = join(dir, 'schedules.json');
    await writeFile(path, JSON.stringify({ schedules: [{ id: 'n', hourOfDay: 5, postedBy: 'Ada' }] }));
    await expect(loadSchedules(path, { defaultTimeZone: 'Australia/Sydney' })).resolves.toEqual([
      { id: 'n', hourOfDay: 5, timeZone: 'Australia/Sydney', postedBy: 'Ada', format: 'csv' },
    ]);
    await expect(loadSchedules(join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: cannot read the schedules file/);
  });
});
