import type { StateStore } from '../state/store.js';
import { computeDelta, scratchRunId } from './delta.js';
import { TargetBusyError } from './errors.js';
import type { SyncStore } from './store.js';

/** The cursor (sync_cursor scope) recording how far held refreshes of a (target, scope) examined. */
const heldCursor = (scope: string): string => `held:${scope}`;

/**
 * Brings the held rows of (target, scope) up to date between runs, so that `held` and GET /api/held
 * show what is held now (SPEC §3), not as of the last run: a grade just posted is no longer listed, an
 * unposted one just received is. It examines what a run would — changes since the later of the
 * scope's run cursor and its own — and writes only held rows (no batch, no ledger, no run cursor), so
 * the next run finds its candidates' held rows current and counts the same. Under the target's lock,
 * so never beside a run to the target; when a run has it, nothing is done (false) and the held rows
 * stay as that run leaves them.
 */
export async function refreshHeld(
  state: StateStore,
  sync: SyncStore,
  target: string,
  scope: string,
  options: { clock: () => number; pageSize?: number | undefined },
): Promise<boolean> {
  let lease;
  try {
    lease = await sync.lockTarget(target, { timeoutMs: 0, holder: `held refresh (pid ${process.pid})` });
  } catch (err) {
    if (err instanceof TargetBusyError) return false;
    throw err;
  }
  try {
    // The epoch first: a resend --all after this point resets the cursors, and advanceCursor leaves that be.
    const run = await sync.cursor(target, scope);
    const own = await sync.cursor(target, heldCursor(scope));
    const to = await state.changeWatermark();
    const from = BigInt(own.watermark) > BigInt(run.watermark) ? own.watermark : run.watermark;
    const queueMark = await sync.queueMark(target);
    await computeDelta(
      sync,
      { runId: scratchRunId(), target, scope, from, to, queueMark, pageSize: options.pageSize },
      {
        page: (_rows, holds, releases) => sync.writeHeld(target, holds, releases, options.clock()),
      },
    );
    await sync.advanceCursor(target, heldCursor(scope), run.epoch, to);
    return true;
  } finally {
    await lease.release();
  }
}
