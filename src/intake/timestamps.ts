import { IntakeProblem, show } from './reasons.js';

/**
 * Strict ISO 8601 date-time with an offset, as Canvas writes them:
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM|±HH). A hand-written parser rather than luxon's
 * fromISO on the hot path: it is several times faster and accepts only these forms. A property test
 * proves it gives the same instant as luxon for every string it accepts.
 */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function fractionToMillis(fraction: string | undefined): number {
  if (fraction === undefined) return 0;
  // Truncate to milliseconds, by digits rather than by float arithmetic.
  const ms = fraction.length >= 3 ? fraction.slice(0, 3) : fraction.padEnd(3, '0');
  return Number(ms);
}

/** Parses one timestamp to UTC epoch milliseconds, or throws an IntakeProblem naming `path`. */
export function parseInstant(value: unknown, path: string): number {
  if (typeof value !== 'string') {
    throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not an ISO 8601 string`);
  }
  const m = ISO.exec(value);
  if (m === null) {
    throw new IntakeProblem('invalid_timestamp', `${path}: ${show(value)} is not an ISO 8601 date-time`);
  }
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw new IntakeProblem('invalid_timestamp', `${path}: ${show(value)} is not a possible date and time`);
  }
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    if (m[9] === undefined) {
      throw new IntakeProblem(
        'timestamp_without_offset',
        `${path}: ${show(value)} has no offset (expected Z or ±HH:MM)`,
      );
    }
    const offHours = Number(m[10]);
    const offMinutes = m[11] === undefined ? 0 : Number(m[11]);
    if (offHours > 23 || offMinutes > 59) {
      throw new IntakeProblem('invalid_timestamp', `${path}: ${show(value)} has an impossible offset`);
    }
    offsetMinutes = (offHours * 60 + offMinutes) * (m[9] === '-' ? -1 : 1);
  }
  const days = daysFromCivil(year, month, day);
  const local = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + fractionToMillis(m[7]);
  const instant = local - offsetMinutes * 60_000;
  // An offset can carry a four-digit year out of 0000-9999 in UTC, where formatInstant's form ends.
  if (instant < FIRST_INSTANT || instant > LAST_INSTANT) {
    throw new IntakeProblem('invalid_timestamp', `${path}: ${show(value)} is outside the years 0000-9999 in UTC`);
  }
  return instant;
}

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
const FIRST_INSTANT = -62_167_219_200_000;
const LAST_INSTANT = 253_402_300_799_999;

/** UTC rendering used at every boundary: YYYY-MM-DDTHH:mm:ss.SSSZ. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
}
