import { UsageError } from '../errors.js';
import type { StateStore } from '../state/store.js';

/**
 * The Canvas shard of the instance being read (SPEC §8). Canvas's REST API answers with ids local to the
 * instance's shard; the Live Events carry global ids (shard × 10^13 + local id), and the store keys
 * everything by those. The shard comes from `--canvas-shard` / GRADESTREAM_CANVAS_SHARD, else from the
 * root account ids the store already knows (when they all lie in one shard); with neither, the command
 * stops (exit 2) before anything is written.
 */
export async function canvasShard(given: string | undefined, store: StateStore): Promise<string> {
  if (given !== undefined) return given;
  const known = await store.shards();
  if (known.length === 1) return known[0]!;
  if (known.length === 0) {
    throw new UsageError(
      'the Canvas shard is unknown: give --canvas-shard N (or GRADESTREAM_CANVAS_SHARD); the state store knows no root account to take it from',
    );
  }
  throw new UsageError(`the state store knows root accounts in shards ${known.join(', ')}: give --canvas-shard N (or GRADESTREAM_CANVAS_SHARD)`);
}
