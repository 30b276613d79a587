import { readFileSync } from 'node:fs';

/** The three payload examples of Canvas's documentation (reference/canvas-live-events-grade-events.txt). */
export type Envelope = { metadata: Record<string, unknown>; body: Record<string, unknown> };
export type FixtureName = 'grade_change' | 'course_grade_change' | 'grade_override';

const fixtureDir = new URL('../fixtures/canvas/', import.meta.url);

export function fixture(name: FixtureName): Envelope {
  return JSON.parse(readFileSync(new URL(`${name}.json`, fixtureDir), 'utf8')) as Envelope;
}

export function fixtureText(name: FixtureName): string {
  return JSON.stringify(fixture(name));
}

/**
 * A fixture with some metadata/body keys replaced; a value of `undefined` removes the key
 * (absent), which is different from null in the JSON text but must not be for intake.
 */
export function variant(
  name: FixtureName,
  changes: { metadata?: Record<string, unknown>; body?: Record<string, unknown> },
): Envelope {
  const e = fixture(name);
  for (const part of ['metadata', 'body'] as const) {
    for (const [key, value] of Object.entries(changes[part] ?? {})) {
      if (value === undefined) delete e[part][key];
      else e[part][key] = value;
    }
  }
  return e;
}
