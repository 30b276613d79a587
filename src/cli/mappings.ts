import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { readProvisioningReport, type BadRow } from '../reconcile/provisioning.js';
import { canvasShard } from '../reconcile/shard.js';
import { openStore, type TaughtMapping } from '../state/store.js';
import { checkReadable } from './lines.js';
import { EXIT, writeJson, type CliIo } from './io.js';
import { commandConfig, type SharedOptions } from './options.js';
import { instantOption } from './sync-common.js';

export interface MappingsImportOptions extends SharedOptions {
  canvasShard?: string;
  asOf?: string;
  dryRun?: boolean;
}

/** Mappings handed to the store per transaction. */
const BATCH = 5_000;
/** Bad rows listed one by one (all are counted). */
const LISTED = 100;

/**
 * `gradestream mappings import FILE`: the SIS ids of a Canvas provisioning report (users or courses),
 * folded as mappings at the report's instant — `--as-of`, else the file's modification time — by the
 * same last-writer-wins rule as events: an event that taught a mapping later wins. Bad rows are
 * reported with their line and the rest is imported (exit 1 if any); an unreadable file, an unknown
 * shard or a file that is no provisioning report is exit 2, before anything is written.
 */
export async function mappingsImport(file: string, opts: MappingsImportOptions, io: CliIo): Promise<number> {
  const config = commandConfig(opts, io, { canvasShard: opts.canvasShard });
  const asOf = opts.asOf === undefined ? undefined : instantOption('--as-of', opts.asOf, 0);
  await checkReadable([file]);
  const instant = asOf ?? (file === '-' ? Date.now() : (await stat(file)).mtimeMs);
  const store = await openStore(config.stateUrl);
  const counts = { report: '', rows: 0, taught: 0, without_sis_id: 0, invalid: 0 };
  const invalid: BadRow[] = [];
  let shard = '';
  try {
    shard = await canvasShard(config.canvasShard, store);
    const input = file === '-' ? io.stdin : createReadStream(file);
    const { kind, items } = await readProvisioningReport(input, shard, Math.floor(instant));
    counts.report = kind;
    let batch: TaughtMapping[] = [];
    const flush = async () => {
      if (batch.length > 0 && !opts.dryRun) await store.apply({ records: [], quarantine: [], mappings: batch });
      counts.taught += batch.length;
      batch = [];
    };
    for await (const item of items) {
      counts.rows += 1;
      if ('mapping' in item) {
        batch.push(item.mapping);
        if (batch.length >= BATCH) await flush();
      } else if ('withoutSisId' in item) counts.without_sis_id += 1;
      else {
        counts.invalid += 1;
        if (invalid.length < LISTED) invalid.push(item.bad);
      }
    }
    await flush();
  } finally {
    await store.close();
  }
  const result = { ...counts, shard, as_of: new Date(instant).toISOString(), dry_run: opts.dryRun === true, invalid_rows: invalid };
  if (opts.json) writeJson(io, result);
  else {
    for (const bad of invalid) io.stdout.write(`${file}:${bad.line}: ${bad.problem}\n`);
    io.stdout.write(
      `${counts.rows} ${counts.report} rows: ${counts.taught} SIS ids ${opts.dryRun ? 'would be ' : ''}taught (as of ${result.as_of}), ` +
        `${counts.without_sis_id} without an SIS id, ${counts.invalid} invalid\n`,
    );
  }
  return counts.invalid > 0 ? EXIT.failed : EXIT.ok;
}
