import { IANAZone } from 'luxon';
import { InternalError } from '../errors.js';

/**
 * When a schedule runs (SPEC §4): once per local calendar day in its IANA zone, at the first instant
 * of that day whose wall clock reads hourOfDay:00 or later. That is hourOfDay:00 itself on an ordinary
 * day; the first instant after the gap when a spring-forward skips it (02:00 → 03:00 in Denver,
 * 02:00 → 02:30 on Lord Howe Island); and the first of the two when a fall-back repeats it.
 *
 * Computed from the zone's UTC offsets rather than luxon's DateTime.fromObject, which resolves a
 * repeated wall time to its later occurrence. All instants are UTC epoch milliseconds.
 */
export interface RunRule {
  hourOfDay: number;
  timeZone: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const zones = new Map<string, IANAZone>();

function zoneOf(name: string): IANAZone {
  let zone = zones.get(name);
  if (zone === undefined) {
    zone = IANAZone.create(name);
    // Schedules are validated when loaded; reaching here with a bad zone is a bug.
    if (!zone.isValid) throw new InternalError(`unknown time zone ${JSON.stringify(name)}`);
    zones.set(name, zone);
  }
  return zone;
}

/** The zone's offset from UTC at instant t, in ms (rounded: old LMT offsets have odd seconds). */
function offsetAt(zone: IANAZone, t: number): number {
  return Math.round(zone.offset(t) * MINUTE);
}

/** The local calendar day of instant t, as days since 1970-01-01. */
function localDay(zone: IANAZone, t: number): number {
  return Math.floor((t + offsetAt(zone, t)) / DAY);
}

/**
 * The run instant of local day `day` (days since 1970-01-01), or null when that day never shows
 * hourOfDay:00 or later (a whole day skipped, as Samoa did on 2011-12-30).
 */
function runOnDay(zone: IANAZone, hourOfDay: number, day: number): number | null {
  const wall = day * DAY + hourOfDay * HOUR; // the wall time read as if it were UTC
  // Offsets a day either side cover any one transition near the wall time.
  const before = offsetAt(zone, wall - DAY);
  const after = offsetAt(zone, wall + DAY);
  let first: number | null = null;
  for (const offset of before === after ? [before] : [before, after]) {
    const t = wall - offset;
    if (t + offsetAt(zone, t) === wall && (first === null || t < first)) first = t;
  }
  if (first !== null) return first;

  // The wall time falls in a gap: the run is at the transition, the first instant after it. It lies
  // between the instants the wall time would have under each offset; bisect to the millisecond.
  let lo = wall - Math.max(before, after);
  let hi = wall - Math.min(before, after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetAt(zone, mid) === before) lo = mid;
    else hi = mid;
  }
  return localDay(zone, hi) === day ? hi : null;
}

/** The next run strictly after `after`. */
export function nextRun(rule: RunRule, after: number): number {
  const zone = zoneOf(rule.timeZone);
  const today = localDay(zone, after);
  // Start a day early: cheap insurance should a clock ever step back across midnight past the hour.
  for (let day = today - 1; day <= today + 7; day++) {
    const run = runOnDay(zone, rule.hourOfDay, day);
    if (run !== null && run > after) return run;
  }
  throw new InternalError(`no run of hour ${rule.hourOfDay} in ${rule.timeZone} within a week of ${after}`);
}

/** The next `count` runs strictly after `after`, in order. */
export function nextRuns(rule: RunRule, after: number, count: number): number[] {
  const runs: number[] = [];
  let t = after;
  while (runs.length < count) {
    t = nextRun(rule, t);
    runs.push(t);
  }
  return runs;
}

/**
 * The runs in (fromExclusive, toInclusive], in order — the occurrences a suspended schedule skipped,
 * or a down service missed. `limit` bounds the answer for very long ranges.
 */
export function occurrencesBetween(
  rule: RunRule,
  fromExclusive: number,
  toInclusive: number,
  limit = Number.POSITIVE_INFINITY,
): number[] {
  const runs: number[] = [];
  let t = fromExclusive;
  while (runs.length < limit) {
    t = nextRun(rule, t);
    if (t > toInclusive) break;
    runs.push(t);
  }
  return runs;
}

/** The latest run at or before `atOrBefore`, or null if none within a week (for catch-up). */
export function previousRun(rule: RunRule, atOrBefore: number): number | null {
  const zone = zoneOf(rule.timeZone);
  const today = localDay(zone, atOrBefore);
  for (let day = today + 1; day >= today - 7; day--) {
    const run = runOnDay(zone, rule.hourOfDay, day);
    if (run !== null && run <= atOrBefore) return run;
  }
  return null;
}
