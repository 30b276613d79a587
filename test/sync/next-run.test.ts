import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { nextRun, nextRuns, occurrencesBetween, previousRun } from '../../src/sync/next-run.js';

/**
 * Expected instants are worked out by hand from each zone's 2026 rules, never by the code under test:
 *  America/Denver       MST −7 / MDT −6; spring 2026-03-08 02:00 MST (09:00Z), fall 2026-11-01 02:00 MDT (08:00Z)
 *  Europe/London        GMT 0 / BST +1; spring 2026-03-29 01:00 GMT (01:00Z), fall 2026-10-25 02:00 BST (01:00Z)
 *  Australia/Sydney     AEST +10 / AEDT +11; fall 2026-04-05 03:00 AEDT (04-04 16:00Z), spring 2026-10-04 02:00 AEST (10-03 16:00Z)
 *  Australia/Lord_Howe  +10:30 / +11 (30-minute shift); fall 2026-04-05 02:00 → 01:30 (04-04 15:00Z),
 *                       spring 2026-10-04 02:00 → 02:30 (10-03 15:30Z)
 */
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
const runs = (timeZone: string, hourOfDay: number, after: string, count: number): string[] =>
  nextRuns({ timeZone, hourOfDay }, at(after), count).map(iso);

describe('next run across DST transitions', () => {
  it('America/Denver spring forward: 02:00 does not exist, the run is at 03:00 MDT', () => {
    expect(runs('America/Denver', 2, '2026-03-07T12:00:00Z', 3)).toEqual([
      '2026-03-08T09:00:00.000Z', // 03:00 MDT, the first instant after the gap
      '2026-03-09T08:00:00.000Z', // 02:00 MDT
      '2026-03-10T08:00:00.000Z',
    ]);
  });

  it('America/Denver fall back: 01:00 happens twice, only the first (MDT) counts', () => {
    expect(runs('America/Denver', 1, '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T07:00:00.000Z', // 01:00 MDT — not 08:00Z (01:00 MST)
      '2026-11-02T08:00:00.000Z', // 01:00 MST
    ]);
    // From inside the repeated hour, or at the run itself, the next run is the next day's.
    expect(runs('America/Denver', 1, '2026-11-01T07:00:00Z', 1)).toEqual(['2026-11-02T08:00:00.000Z']);
    expect(runs('America/Denver', 1, '2026-11-01T07:30:00Z', 1)).toEqual(['2026-11-02T08:00:00.000Z']);
    expect(runs('America/Denver', 1, '2026-11-01T08:00:00Z', 1)).toEqual(['2026-11-02T08:00:00.000Z']);
  });

  it('America/Denver fall back: 02:00 is shown once, at 02:00 MST', () => {
    expect(runs('America/Denver', 2, '2026-10-31T12:00:00Z', 1)).toEqual(['2026-11-01T09:00:00.000Z']);
  });

  it('America/Denver hours 0 and 23 around both transitions', () => {
    expect(runs('America/Denver', 0, '2026-03-07T08:00:00Z', 2)).toEqual([
      '2026-03-08T07:00:00.000Z', // 00:00 MST
      '2026-03-09T06:00:00.000Z', // 00:00 MDT
    ]);
    expect(runs('America/Denver', 23, '2026-03-07T12:00:00Z', 2)).toEqual([
      '2026-03-08T06:00:00.000Z', // 03-07 23:00 MST
      '2026-03-09T05:00:00.000Z', // 03-08 23:00 MDT
    ]);
    expect(runs('America/Denver', 23, '2026-10-31T12:00:00Z', 2)).toEqual([
      '2026-11-01T05:00:00.000Z', // 10-31 23:00 MDT
      '2026-11-02T06:00:00.000Z', // 11-01 23:00 MST
    ]);
  });

  it('Europe/London spring forward and fall back', () => {
    expect(runs('Europe/London', 1, '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z', // 01:00 GMT is skipped: 02:00 BST
      '2026-03-30T00:00:00.000Z', // 01:00 BST
    ]);
    expect(runs('Europe/London', 1, '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:00:00.000Z', // first 01:00, BST (not 01:00Z, 01:00 GMT)
      '2026-10-26T01:00:00.000Z', // 01:00 GMT
    ]);
    expect(runs('Europe/London', 0, '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T23:00:00.000Z', // 03-30 00:00 BST
    ]);
    expect(runs('Europe/London', 23, '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z', // 23:00 BST
    ]);
  });

  it('Australia/Sydney (southern hemisphere): falls back in April, springs forward in October', () => {
    expect(runs('Australia/Sydney', 2, '2026-04-04T00:00:00Z', 2)).toEqual([
      '2026-04-04T15:00:00.000Z', // 04-05 02:00 AEDT, the first of two 02:00s
      '2026-04-05T16:00:00.000Z', // 04-06 02:00 AEST
    ]);
    expect(runs('Australia/Sydney', 2, '2026-10-02T20:00:00Z', 2)).toEqual([
      '2026-10-03T16:00:00.000Z', // 10-04 03:00 AEDT, after the gap
      '2026-10-04T15:00:00.000Z', // 10-05 02:00 AEDT
    ]);
  });

  it('Australia/Lord_Howe: a 30-minute shift', () => {
    expect(runs('Australia/Lord_Howe', 2, '2026-10-02T20:00:00Z', 2)).toEqual([
      '2026-10-03T15:30:00.000Z', // 10-04 02:30 +11, the first instant after the 02:00–02:30 gap
      '2026-10-04T15:00:00.000Z', // 10-05 02:00 +11
    ]);
    expect(runs('Australia/Lord_Howe', 1, '2026-04-04T00:00:00Z', 2)).toEqual([
      '2026-04-04T14:00:00.000Z', // 04-05 01:00 +11 (01:30–02:00 repeats, 01:00 does not)
      '2026-04-05T14:30:00.000Z', // 04-06 01:00 +10:30
    ]);
    expect(runs('Australia/Lord_Howe', 2, '2026-04-04T00:00:00Z', 1)).toEqual([
      '2026-04-04T15:30:00.000Z', // 04-05 02:00 +10:30: the clock turned back at 02:00 +11, which it never showed
    ]);
  });

  it('Pacific/Apia skipped 2011-12-30: no run that local day, one on each other', () => {
    // −10 (DST) until 2011-12-29 23:59:59, then +14: 12:00 local is 22:00Z on both sides.
    expect(runs('Pacific/Apia', 12, '2011-12-28T12:00:00Z', 3)).toEqual([
      '2011-12-28T22:00:00.000Z', // 12-28 12:00 −10
      '2011-12-29T22:00:00.000Z', // 12-29 12:00 −10
      '2011-12-30T22:00:00.000Z', // 12-31 12:00 +14 (12-30 never happened)
    ]);
  });

  it('UTC, strictly after', () => {
    expect(runs('UTC', 0, '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z']);
    expect(runs('UTC', 23, '2026-01-01T22:59:59.999Z', 1)).toEqual(['2026-01-01T23:00:00.000Z']);
  });

  it('occurrencesBetween is (from, to] and previousRun the latest at or before', () => {
    const rule = { timeZone: 'America/Denver', hourOfDay: 2 };
    expect(occurrencesBetween(rule, at('2026-03-08T09:00:00Z'), at('2026-03-10T08:00:00Z')).map(iso)).toEqual([
      '2026-03-09T08:00:00.000Z',
      '2026-03-10T08:00:00.000Z',
    ]);
    expect(occurrencesBetween(rule, at('2026-03-01T00:00:00Z'), at('2026-03-31T00:00:00Z'), 2)).toHaveLength(2);
    expect(occurrencesBetween(rule, at('2026-03-09T08:00:00Z'), at('2026-03-09T08:00:00Z'))).toEqual([]);
    expect(iso(previousRun(rule, at('2026-03-08T09:00:00Z'))!)).toBe('2026-03-08T09:00:00.000Z');
    expect(iso(previousRun(rule, at('2026-03-08T08:59:59Z'))!)).toBe('2026-03-07T09:00:00.000Z');
  });
});

const ZONES = [
  'UTC',
  'America/Denver',
  'America/New_York',
  'America/St_Johns', // −3:30 (changed at 00:01 until 2011: off the grid, so random years start at 2012)
  'America/Santiago', // transitions at midnight; falls back across it
  'America/Havana', // springs forward at midnight
  'Europe/London',
  'Europe/Berlin',
  'Africa/Casablanca', // DST suspended during Ramadan
  'Asia/Kathmandu', // +5:45
  'Asia/Tehran',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham', // +12:45 / +13:45
  'Pacific/Apia',
];

describe('one run per local day', () => {
  it.each(ZONES)('%s: 365 runs in 2026, one on each local date', (zone) => {
    for (const hourOfDay of [0, 1, 2, 12, 23]) {
      const start = DateTime.fromObject({ year: 2026 }, { zone }).toMillis();
      const end = DateTime.fromObject({ year: 2027 }, { zone }).toMillis();
      const found = occurrencesBetween({ timeZone: zone, hourOfDay }, start - 1, end - 1);
      const dates = found.map((t) => DateTime.fromMillis(t, { zone }).toISODate());
      expect(new Set(dates).size).toBe(365);
      expect(dates.every((d) => d!.startsWith('2026-'))).toBe(true);
    }
  });
});

/**
 * An independent oracle: walk the 15-minute grid (every offset and transition in ZONES since 2012 lies on it) with
 * luxon's instant → wall time, and call an instant qualifying when it is the first of its local date
 * whose wall clock reads hourOfDay:00 or later.
 */
const STEP = 15 * 60_000;
function qualifyingBetween(zone: string, hourOfDay: number, from: number, to: number): number[] {
  const firstOfDate = new Map<string, number>();
  for (let t = Math.floor((from - 2 * 86_400_000) / STEP) * STEP; t <= to; t += STEP) {
    const wall = DateTime.fromMillis(t, { zone });
    const date = wall.toISODate()!;
    if (wall.hour >= hourOfDay && !firstOfDate.has(date)) firstOfDate.set(date, t);
  }
  return [...firstOfDate.values()].filter((t) => t > from && t <= to).sort((a, b) => a - b);
}

/** The instants in `year` at which `zone` changes offset (on the 15-minute grid), found with luxon. */
const transitionCache = new Map<string, number[]>();
function transitions(zone: string, year: number): number[] {
  const key = `${zone}/${year}`;
  let found = transitionCache.get(key);
  if (found === undefined) {
    found = [];
    const offset = (t: number) => DateTime.fromMillis(t, { zone }).offset;
    // Day by day, then 15 minutes at a time inside a day whose offset changes (never twice a day).
    for (let day = Date.UTC(year, 0, 1); day < Date.UTC(year + 1, 0, 1); day += 86_400_000) {
      const start = offset(day);
      if (start === offset(day + 86_400_000)) continue;
      let t = day;
      while (offset(t + STEP) === start) t += STEP;
      found.push(t + STEP);
    }
    transitionCache.set(key, found);
  }
  return found;
}

/** Mostly instants within a day and a half of a real transition, with hours around its wall time. */
const nearTransition = fc
  .record({
    zone: fc.constantFrom(...ZONES.filter((z) => z !== 'UTC' && z !== 'Asia/Kathmandu')),
    year: fc.integer({ min: 2012, max: 2030 }),
    pick: fc.nat(),
    shift: fc.integer({ min: -36 * 3_600_000, max: 2 * 3_600_000 }),
    hourDelta: fc.integer({ min: -1, max: 1 }),
  })
  .filter(({ zone, year }) => transitions(zone, year).length > 0)
  .map(({ zone, year, pick, shift, hourDelta }) => {
    const list = transitions(zone, year);
    const transition = list[pick % list.length]!;
    const localHour = DateTime.fromMillis(transition - 1, { zone }).hour;
    return { zone, after: transition + shift, hourOfDay: (localHour + hourDelta + 24) % 24 };
  });

const anywhere = fc.record({
  zone: fc.constantFrom(...ZONES),
  after: fc.integer({ min: Date.UTC(2012, 0, 1), max: Date.UTC(2035, 0, 1) }),
  hourOfDay: fc.integer({ min: 0, max: 23 }),
});

describe('next run (property)', () => {
  it('is after `after`, qualifies, and skips no qualifying instant', () => {
    fc.assert(
      fc.property(fc.oneof(anywhere, nearTransition, nearTransition), ({ zone, hourOfDay, after }) => {
        const run = nextRun({ timeZone: zone, hourOfDay }, after);
        expect(run).toBeGreaterThan(after);
        const wall = DateTime.fromMillis(run, { zone });
        const inGap = DateTime.fromMillis(run - 1, { zone }).offset !== wall.offset;
        expect((wall.hour === hourOfDay && wall.minute === 0) || inGap).toBe(true);
        expect(qualifyingBetween(zone, hourOfDay, after, run)).toEqual([run]);
      }),
      { numRuns: 500 },
    );
  });
});
