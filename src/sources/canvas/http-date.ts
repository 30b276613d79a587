/**
 * The HTTP `Date` header (RFC 9110 §5.6.7) as epoch ms, or null. Only IMF-fixdate is read, the one form
 * senders must generate ("Sun, 06 Nov 1994 08:49:37 GMT"); an impossible date (31 Feb) is null rather
 * than rolled over as Date.parse would.
 */
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function parseHttpDate(value: string | null | undefined): number | null {
  if (typeof value !== 'string') return null;
  const m = IMF_FIXDATE.exec(value.trim());
  if (m === null) return null;
  const day = Number(m[2]);
  const month = MONTHS.indexOf(m[3]!);
  const year = Number(m[4]);
  const hour = Number(m[5]);
  const minute = Number(m[6]);
  // 60 is a leap second, which an instant in ms cannot show: read as :59.
  const second = Math.min(Number(m[7]), 59);
  if (hour > 23 || minute > 59 || Number(m[7]) > 60) return null;
  const ms = Date.UTC(year, month, day, hour, minute, second);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  return ms;
}

/** An instant as an IMF-fixdate (what a server sends). */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
