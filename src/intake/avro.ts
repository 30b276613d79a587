import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { Type } from 'avsc';
import { z } from 'zod';
import { intakeValue, type Verdict } from './intake.js';

/**
 * Avro Kafka values in the Confluent wire format (SPEC §1.1): byte 0 is the magic byte 0, bytes 1-4 the
 * schema id (big-endian), the rest one Avro binary value. The ids map to `schemas/registry.json`; a value
 * written with any version of a subject is read as that subject's highest version (the reader schema), so
 * fields the writer did not have come back null, which intake treats as absent.
 */

/** `schemas/` of the repository: two levels up from both src/intake/avro.ts and dist/intake/avro.js. */
export const SCHEMAS_DIR = new URL('../../schemas/', import.meta.url);

type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];

const HEADER_BYTES = 5;
const MAGIC = 0;

/** One schema id of the registry, with its parsed Avro schema (what `schemas/registry.json` names). */
export interface SchemaEntry {
  id: number;
  subject: string;
  version: number;
  schema: unknown;
}

const RegistryFile = z.object({
  schemas: z.array(
    z.object({
      id: z.number().int().min(0).max(0x7fffffff), // Confluent ids are Java ints
      subject: z.string().min(1),
      version: z.number().int().positive(),
      file: z.string().min(1),
    }),
  ),
});

interface Writer {
  entry: SchemaEntry;
  type: Type;
  /** The subject's latest version: values are decoded with it. */
  reader: Type;
  /** From this writer to `reader`; undefined when the writer is the reader. */
  resolver: ReturnType<Type['createResolver']> | undefined;
}

/** The outcome of reading the wire format, before intake. */
/**
 * A decoded Avro value as the JSON text kept for quarantine (readable, and re-drivable as Canvas JSON).
 * Avro doubles may be NaN or ±Infinity, which JSON.stringify would write as null — a valid score, so a
 * re-drive would fold an invalid event as a cleared one: they are written as the strings "NaN",
 * "Infinity", "-Infinity", which intake refuses as it refused the value.
 */
export function avroValueJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

export type WireDecoded = { ok: true; schemaId: number; value: unknown } | { ok: false; detail: string };

export class AvroDecoder {
  private constructor(private readonly writers: ReadonlyMap<number, Writer>) {}

  /** Reads `registry.json` and the schema files it names from `dir`. */
  static async load(dir: URL | string = SCHEMAS_DIR): Promise<AvroDecoder> {
    const registry = RegistryFile.parse(JSON.parse(await readFile(inDir(dir, 'registry.json'), 'utf8')));
    const entries = await Promise.all(
      registry.schemas.map(async ({ file, ...e }) => ({ ...e, schema: await readSchema(file, dir) })),
    );
    return AvroDecoder.fromRegistry(entries);
  }

  /** Throws on a duplicate id or version, or a writer schema its subject's reader cannot resolve. */
  static fromRegistry(entries: readonly SchemaEntry[]): AvroDecoder {
    const types = new Map<number, Type>();
    const readers = new Map<string, SchemaEntry>();
    const versions = new Set<string>();
    for (const entry of entries) {
      const version = `${entry.subject} v${entry.version}`;
      if (types.has(entry.id)) throw new Error(`schema id ${entry.id} is registered twice`);
      if (versions.has(version)) throw new Error(`${version} is registered twice`);
      versions.add(version);
      types.set(entry.id, avro.Type.forSchema(entry.schema as AvroSchema));
      const latest = readers.get(entry.subject);
      if (latest === undefined || entry.version > latest.version) readers.set(entry.subject, entry);
    }
    // Resolve every writer now: an incompatible schema is a deployment error, found at start, not per message.
    const writers = new Map<number, Writer>();
    for (const entry of entries) {
      const type = types.get(entry.id)!;
      const latest = readers.get(entry.subject)!;
      const reader = types.get(latest.id)!;
      let resolver: Writer['resolver'];
      if (latest !== entry) {
        try {
          resolver = reader.createResolver(type);
        } catch (err) {
          throw new Error(
            `schema id ${entry.id} (${entry.subject} v${entry.version}) cannot be read as v${latest.version}: ${message(err)}`,
          );
        }
      }
      writers.set(entry.id, { entry, type, reader, resolver });
    }
    return new AvroDecoder(writers);
  }

  /** Intake of one Kafka value. Never throws: anything undecodable is quarantined as `invalid_avro`. */
  decode(buf: Uint8Array): Verdict {
    const wire = this.decodeWire(buf);
    if (!wire.ok) return { outcome: 'quarantined', reason: 'invalid_avro', detail: wire.detail };
    return intakeValue(wire.value);
  }

  /** The wire format to a plain object in the reader schema's shape (records as plain objects, nulls kept). */
  decodeWire(buf: Uint8Array): WireDecoded {
    const fail = (detail: string): WireDecoded => ({ ok: false, detail });
    if (buf.length < HEADER_BYTES) {
      return fail(`${buf.length} bytes: shorter than the ${HEADER_BYTES}-byte Confluent wire format header`);
    }
    if (buf[0] !== MAGIC) return fail(`magic byte ${buf[0]}, expected ${MAGIC} (Confluent wire format)`);
    const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength); // a view, no copy
    const id = bytes.readUInt32BE(1);
    const writer = this.writers.get(id);
    if (writer === undefined) return fail(`unknown schema id ${id}`);
    const where = `schema id ${id} (${writer.entry.subject} v${writer.entry.version})`;
    let decoded: { value: unknown; offset: number };
    try {
      // avsc throws on some garbage (a union branch index out of range) and reports truncation as offset -1.
      decoded = writer.reader.decode(bytes, HEADER_BYTES, writer.resolver);
    } catch (err) {
      return fail(`${where}: undecodable Avro: ${message(err)}`);
    }
    if (decoded.offset < 0) return fail(`${where}: truncated Avro value (${bytes.length - HEADER_BYTES} bytes)`);
    if (decoded.offset < bytes.length) {
      return fail(`${where}: ${bytes.length - decoded.offset} trailing bytes after the Avro value at byte ${decoded.offset}`);
    }
    return { ok: true, schemaId: id, value: plain(decoded.value) };
  }

  /** The wire format of `value` written with schema `schemaId`. Throws if the value does not fit the schema. */
  encode(schemaId: number, value: unknown): Buffer {
    const writer = this.writers.get(schemaId);
    if (writer === undefined) throw new Error(`unknown schema id ${schemaId}`);
    const bad: string[] = [];
    if (!writer.type.isValid(value, { errorHook: (path) => bad.push(path.join('.') || '(value)') })) {
      throw new Error(`not a valid ${writer.entry.subject} v${writer.entry.version} value at ${bad.join(', ')}`);
    }
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(MAGIC, 0);
    header.writeUInt32BE(schemaId, 1);
    return Buffer.concat([header, writer.type.toBuffer(value)]);
  }
}

/**
 * An identity logical type on each record of the normalised-event union. avsc refuses an unwrapped union of
 * several records (all are "objects"); with a logical type on each it picks the branch whose record accepts
 * the value, which the single-symbol `kind` enum makes unique. So plain records from intake encode as they
 * are, and decode back to plain objects. Resolution between versions is not supported (no `_resolve`).
 */
class KindedRecord extends avro.types.LogicalType {
  protected override _fromValue(value: object): object {
    return { ...value };
  }
  protected override _toValue(value: unknown): unknown {
    return value;
  }
}

/** A type of one schema file in `dir`, with gradestream's logical types. */
export async function loadType(file: string, dir: URL | string = SCHEMAS_DIR): Promise<Type> {
  return avro.Type.forSchema((await readSchema(file, dir)) as AvroSchema, {
    logicalTypes: { 'gradestream-record': KindedRecord },
  });
}

/** The Avro type of the normalised records of records.ts (a union of the three). */
export const loadNormalisedEventType = (dir?: URL | string): Promise<Type> =>
  loadType('gradestream-normalised-event.avsc', dir);

async function readSchema(file: string, dir: URL | string): Promise<unknown> {
  return JSON.parse(await readFile(inDir(dir, file), 'utf8'));
}

function inDir(dir: URL | string, file: string): string {
  return join(typeof dir === 'string' ? dir : fileURLToPath(dir), file);
}

/** avsc records are class instances; intake and JSON want plain objects. */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(plain);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
