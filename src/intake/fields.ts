import { IntakeProblem, show } from './reasons.js';

/** Field readers for Canvas payloads. Absent and null are the same everywhere (compact payloads). */

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A score: a finite number, a numeric string (converted), or null. */
export function readScore(value: unknown, path: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value === 0 ? 0 : value; // -0 → 0: one value, one fingerprint
  } else if (typeof value === 'string' && NUMERIC.test(value)) {
    const n = Number(value);
    if (Number.isFinite(n)) return n === 0 ? 0 : n;
  }
  throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not a finite number`);
}

/**
 * Text stored for the SIS. U+0000 is refused: PostgreSQL text cannot hold it, and no real grade or SIS
 * id contains it, so it can only be a broken producer. So is a lone surrogate (a \uD800 escape with no
 * pair): it has no UTF-8 form, and would reach the SIS as U+FFFD.
 */
function text(value: string, path: string): string {
  if (value.includes('\u0000')) throw new IntakeProblem('invalid_field', `${path}: ${show(value)} contains U+0000`);
  if (!value.isWellFormed()) throw new IntakeProblem('invalid_field', `${path}: ${show(value)} contains a lone surrogate (not Unicode text)`);
  return value;
}

/** A letter or points grade: a string, a number (written as a string), or null. */
export function readGrade(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return text(value, path);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not a grade`);
}

export function readBoolean(value: unknown, path: string): boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value;
  throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not a boolean`);
}

export function readString(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return text(value, path);
  throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not a string`);
}

/** An SIS id: a non-empty string (a safe integer is accepted and written as one). Empty means unknown. */
export function readSisId(value: unknown, path: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') return text(value, path);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new IntakeProblem('invalid_field', `${path}: ${show(value)} is not an SIS id`);
}

/**
 * A display name (an assignment's): a non-empty string of Unicode text without U+0000, at most 255
 * characters (Canvas's limit), else absent. Lenient on purpose: a name is not a grade, and a broken one
 * must not quarantine the grade beside it.
 */
export function readName(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 255) return null;
  return value.includes('\u0000') || !value.isWellFormed() ? null : value;
}

export function required<T>(value: T | null, path: string): T {
  if (value === null) throw new IntakeProblem('invalid_field', `${path}: required but absent or null`);
  return value;
}
