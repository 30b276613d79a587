import { IntakeProblem, show } from './reasons.js';

/**
 * Canvas ids, kept as exact decimal strings. Global ids are shard × 10^13 + local id; they exceed 2^53,
 * so a JS number would silently round them. All arithmetic here is on digit strings: a local id below
 * 10^13 joins its shard as `shard` followed by the id padded to 13 digits, which is exactly
 * shard × 10^13 + id without ever leaving exact integer text.
 */

const SHARD_DIGITS = 13;
const INT64_MAX = '9223372036854775807';
const DIGITS = /^[0-9]+$/;

/** Thrown-away helper for the uncommon case: a JSON number id that lost its digits in JSON.parse. */
export type RawDigitsLookup = (path: string) => string | undefined;

function fitsInt64(digits: string): boolean {
  return digits.length < 19 || (digits.length === 19 && digits <= INT64_MAX);
}

function stripZeros(digits: string): string {
  if (digits.length === 1 || digits.charCodeAt(0) !== 48) return digits;
  const stripped = digits.replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}

/**
 * Reads an id field: a decimal string, or a JSON integer that is safe. Absent and null give null.
 * The result is the id as given (leading zeros removed), not yet canonicalised.
 */
export function readId(value: unknown, path: string, rawDigits?: RawDigitsLookup): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    if (!DIGITS.test(value)) {
      throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not a decimal id`);
    }
    const digits = stripZeros(value);
    if (!fitsInt64(digits)) {
      throw new IntakeProblem('invalid_field', `${path}: ${show(value)} exceeds a 64-bit id`);
    }
    return digits;
  }
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return String(value);
    if (Number.isInteger(value) && Math.abs(value) > Number.MAX_SAFE_INTEGER) {
      const written = rawDigits?.(path) ?? String(value);
      throw new IntakeProblem(
        'unsafe_integer_id',
        `${path}: ${written} is a JSON number above 2^53-1 and cannot be read exactly; send ids as strings`,
      );
    }
    throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not a non-negative integer id`);
  }
  throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not an id`);
}

/** The shard of a global id (>= 10^13), or null for a local id. */
export function shardOf(id: string | null): string | null {
  if (id === null || id.length <= SHARD_DIGITS) return null;
  return id.slice(0, id.length - SHARD_DIGITS);
}

/** Canonical global form: a local id (< 10^13) joins the shard; a global id, or no shard, stays. */
export function canonicalId(id: string, shard: string | null, path: string): string {
  if (shard === null || id.length > SHARD_DIGITS) return id;
  const global = shard + id.padStart(SHARD_DIGITS, '0');
  if (!fitsInt64(global)) {
    throw new IntakeProblem('invalid_field', `${path}: ${id} in shard ${shard} exceeds a 64-bit id`);
  }
  return global;
}

/** A required id field in its canonical global form in `shard` (Canvas's REST API and reports give local ids). */
export function readGlobalId(value: unknown, shard: string, path: string): string {
  const local = readId(value, path);
  if (local === null) throw new IntakeProblem('invalid_field', `${path}: required but absent or null`);
  return canonicalId(local, shard, path);
}

/** Exact comparison of two canonical ids (numeric order, for sorting feed rows). */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
