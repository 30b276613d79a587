import { UsageError } from '../errors.js';
import { AvroDecoder } from '../intake/avro.js';
import { intakeBytes, intakeText, quarantineReasons, type Verdict } from '../intake/index.js';
import type { NormalisedEvent } from '../intake/records.js';
import { openStore, type StoredQuarantineEntry } from '../state/store.js';
import { positiveInt } from './sync-common.js';
import { writeJson, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';

export interface QuarantineOptions extends SharedOptions {
  limit?: string;
  after?: string;
  id?: string[];
  reason?: string;
}

export const QUARANTINE_LIMIT = 100;

/** `gradestream quarantine list`: quarantined messages, oldest first, with their position and reason. */
export async function quarantineList(opts: QuarantineOptions, io: CliIo): Promise<number> {
  const config = commandConfig(opts, io);
  const limit = positiveInt('--limit', opts.limit, QUARANTINE_LIMIT, 10_000);
  const store = await openStore(config.stateUrl, { mustExist: true });
  try {
    const entries = await store.listQuarantine({ limit, after: opts.after });
    if (opts.json) writeJson(io, { quarantine: entries });
    else {
      for (const e of entries) io.stdout.write(`${e.id}\t${e.received_at}\t${e.source}\t${e.position}\t${e.reason}: ${e.detail}\n`);
      io.stdout.write(`${entries.length} quarantined message${entries.length === 1 ? '' : 's'}${entries.length === limit ? ` (more after --after ${entries.at(-1)!.id})` : ''}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * `gradestream quarantine redrive [--id ID...] [--reason R]`: runs intake again on quarantined messages
 * (after a producer fix, a new Avro schema in schemas/registry.json, or a gradestream upgrade). Those now
 * valid are folded, and those now ignored are dropped from the quarantine, in the same transaction;
 * the others stay, counted as still quarantined.
 */
export async function quarantineRedrive(opts: QuarantineOptions, io: CliIo): Promise<number> {
  const config = commandConfig(opts, io);
  if (opts.reason !== undefined && !(quarantineReasons as readonly string[]).includes(opts.reason)) {
    throw new UsageError(`--reason: ${JSON.stringify(opts.reason)} is not a quarantine reason (${quarantineReasons.join(', ')})`);
  }
  const ids = opts.id === undefined ? undefined : new Set(opts.id);
  const store = await openStore(config.stateUrl, { mustExist: true });
  let avro: AvroDecoder | undefined;
  const counts = { examined: 0, applied: 0, stale: 0, duplicate: 0, ignored: 0, still_quarantined: 0 };
  try {
    const again = async (e: StoredQuarantineEntry): Promise<Verdict> => {
      // Undecodable Kafka values are kept as base64 of their bytes: decode them with today's schemas.
      if (e.source === 'kafka' && e.reason === 'invalid_avro') {
        avro ??= await AvroDecoder.load();
        return avro.decode(Buffer.from(e.raw, 'base64'));
      }
      const intake = { maxFutureMs: config.maxFutureSeconds * 1000 };
      // Bytes that were not UTF-8 are read as they were received (and stay quarantined as such).
      return e.raw_base64 === undefined ? intakeText(e.raw, intake) : intakeBytes(Buffer.from(e.raw_base64, 'base64'), intake);
    };
    for (let after: string | undefined; ; ) {
      const page = await store.listQuarantine({ limit: 1000, after });
      if (page.length === 0) break;
      after = page.at(-1)!.id;
      const records: NormalisedEvent[] = [];
      const redriven: string[] = [];
      for (const e of page) {
        if ((ids && !ids.has(e.id)) || (opts.reason !== undefined && e.reason !== opts.reason)) continue;
        counts.examined += 1;
        const v = await again(e);
        if (v.outcome === 'quarantined') counts.still_quarantined += 1;
        else {
          redriven.push(e.id);
          if (v.outcome === 'valid') records.push(v.record);
          else counts.ignored += 1;
        }
      }
      if (redriven.length === 0) continue;
      for (const outcome of await store.apply({ records, quarantine: [], redriven })) counts[outcome] += 1;
    }
  } finally {
    await store.close();
  }
  if (opts.json) writeJson(io, counts);
  else {
    io.stdout.write(
      `${counts.examined} examined: ${counts.applied} applied, ${counts.stale} stale, ${counts.duplicate} duplicate, ` +
        `${counts.ignored} ignored, ${counts.still_quarantined} still quarantined\n`,
    );
  }
  return 0;
}
