import { randomInt } from 'node:crypto';
import type { BatchRow, HeldWrite, SyncStore } from './store.js';
import { ALL_SCOPE } from './store.js';
import { decide, zeroRowsBy, type HeldCounts, type RowsBy, type SyncKey } from './view.js';

/**
 * The delta engine (SPEC §3). The store gathers the candidates — keys whose view may have changed since
 * the cursor — deduplicated, with everything their view depends on, numbered in SPEC §6 file order, in
 * one set-based statement (sync_view); they are then read back a page at a time, and each page's
 * decisions are handed to `out` before the next page is read. So the rows to send come out already in
 * file order (the batch file is written as they come), and memory is bounded by the page size,
 * whatever the number of rows.
 */

export interface DeltaParams {
  runId: string;
  target: string;
  /** A root account id, or ALL_SCOPE. */
  scope: string;
  /** Changes in (from, to] are examined. */
  from: string;
  to: string;
  queueMark: string;
  pageSize?: number;
}

export interface DeltaOutput {
  /**
   * One page's decisions: the rows to send (in file order, continuing the previous page's), held rows
   * whose reason (or record) changed, and keys no longer held.
   */
  page(rows: BatchRow[], holds: HeldWrite[], releases: SyncKey[]): Promise<void>;
}

export interface DeltaSummary {
  row_count: number;
  rows_by: RowsBy;
  /**
   * Held rows in scope after this run, by reason: the held table as this run leaves it (or, for a dry
   * run, would leave it): its counts before the run, with each hold and release the run writes.
   */
  held: HeldCounts;
}

export const DEFAULT_PAGE_SIZE = 1000;

/** A scratch run id for a delta that is not a recorded run (dry run, held refresh): negative, so it never meets a recorded run's. */
export function scratchRunId(): string {
  return `-${randomInt(1, 2 ** 47)}`;
}

export async function computeDelta(store: SyncStore, p: DeltaParams, out: DeltaOutput): Promise<DeltaSummary> {
  const pageSize = p.pageSize ?? DEFAULT_PAGE_SIZE;
  // Held rows are candidates only when something they depend on changed: the others stay as counted here.
  const summary: DeltaSummary = { row_count: 0, rows_by: zeroRowsBy(), held: await store.heldCounts(p.target, p.scope) };
  const inScope = (rootAccountId: string | null): boolean => p.scope === ALL_SCOPE || rootAccountId === p.scope;
  await store.buildCandidates(p.runId, p.target, p.from, p.to, p.queueMark);
  try {
    let next = store.candidatePage(p.runId, 0, pageSize);
    for (;;) {
      const { candidates, last } = await next;
      if (candidates.length === 0) break;
      const more = candidates.length === pageSize;
      if (more) {
        // The next page is read while this one is decided and written (PostgreSQL works meanwhile).
        next = store.candidatePage(p.runId, last, pageSize);
        next.catch(() => undefined); // awaited on the next turn; if this one fails first, dropped
      }
      const rows: BatchRow[] = [];
      const holds: HeldWrite[] = [];
      const releases: SyncKey[] = [];
      for (const c of candidates) {
        // A schedule with rootAccountId covers only rows of courses in that root account (SPEC §4).
        if (!inScope(c.root_account_id)) continue;
        const d = decide(c); // a candidate is its own key (it has SyncKey's fields)
        if (d.kind === 'hold') {
          const h = c.held;
          if (h === null || h.reason !== d.reason || h.changed_at !== d.changed_at || h.root_account_id !== c.root_account_id) {
            holds.push({ key: c, reason: d.reason, course_id: d.course_id, root_account_id: c.root_account_id, changed_at: d.changed_at });
            if (h !== null && inScope(h.root_account_id)) summary.held[h.reason] -= 1;
            summary.held[d.reason] += 1; // c is in scope (above)
          }
          continue;
        }
        if (c.held !== null) {
          releases.push(c);
          if (inScope(c.held.root_account_id)) summary.held[c.held.reason] -= 1;
        }
        if (d.kind === 'send') {
          rows.push({ key: c, digest: d.digest, row: d.row });
          summary.rows_by[d.row.record_type][d.row.op] += 1;
          summary.row_count += 1;
        }
      }
      if (rows.length > 0 || holds.length > 0 || releases.length > 0) await out.page(rows, holds, releases);
      if (!more) break;
      // SQLite answers synchronously: let the service's other work (HTTP, sources) in between pages.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    await store.dropCandidates(p.runId).catch(() => undefined);
  }
  return summary;
}
