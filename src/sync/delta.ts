import type { BatchRow, HeldWrite, SyncStore } from './store.js';
import { ALL_SCOPE } from './store.js';
import { decide, zeroHeld, zeroRowsBy, type HeldCounts, type RecordType, type RowsBy, type SyncKey } from './view.js';

/**
 * The delta engine (SPEC §3). The candidates — keys whose view may have changed since the cursor —
 * are gathered by the store into a scratch table (deduplicated there, not in memory), then read back
 * a page at a time with everything their view depends on; each page's decisions are handed to `out`
 * before the next page is read. Memory is bounded by the page size, whatever the number of rows.
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
  /** Rows to send (one page's worth). */
  rows(rows: BatchRow[]): Promise<void>;
  /** Held rows whose reason (or record) changed, and keys no longer held. */
  held(holds: HeldWrite[], releases: SyncKey[]): Promise<void>;
}

export interface DeltaSummary {
  row_count: number;
  rows_by: RowsBy;
  /** Held rows in scope after this run, by reason (every held row is a candidate of every run). */
  held: HeldCounts;
}

export const DEFAULT_PAGE_SIZE = 1000;
const RECORD_TYPES: readonly RecordType[] = ['assignment', 'course'];

export async function computeDelta(store: SyncStore, p: DeltaParams, out: DeltaOutput): Promise<DeltaSummary> {
  const pageSize = p.pageSize ?? DEFAULT_PAGE_SIZE;
  const summary: DeltaSummary = { row_count: 0, rows_by: zeroRowsBy(), held: zeroHeld() };
  await store.buildCandidates(p.runId, p.target, p.from, p.to, p.queueMark);
  try {
    for (const recordType of RECORD_TYPES) {
      let after: SyncKey | null = null;
      for (;;) {
        const page = await store.candidatePage(p.runId, p.target, recordType, after, pageSize);
        if (page.length === 0) break;
        const last = page[page.length - 1]!;
        after = { record_type: recordType, k1: last.k1, k2: last.k2, k3: last.k3 };
        const rows: BatchRow[] = [];
        const holds: HeldWrite[] = [];
        const releases: SyncKey[] = [];
        for (const c of page) {
          // A schedule with rootAccountId covers only rows of courses in that root account (SPEC §4).
          if (p.scope !== ALL_SCOPE && c.root_account_id !== p.scope) continue;
          const key: SyncKey = { record_type: c.record_type, k1: c.k1, k2: c.k2, k3: c.k3 };
          const d = decide(c);
          if (d.kind === 'hold') {
            summary.held[d.reason] += 1;
            const h = c.held;
            if (h === null || h.reason !== d.reason || h.changed_at !== d.changed_at || h.root_account_id !== c.root_account_id) {
              holds.push({ key, reason: d.reason, course_id: d.course_id, root_account_id: c.root_account_id, changed_at: d.changed_at });
            }
            continue;
          }
          if (c.held !== null) releases.push(key);
          if (d.kind === 'send') {
            rows.push({ key, digest: d.digest, row: d.row });
            summary.rows_by[d.row.record_type][d.row.op] += 1;
            summary.row_count += 1;
          }
        }
        if (rows.length > 0) await out.rows(rows);
        if (holds.length > 0 || releases.length > 0) await out.held(holds, releases);
        if (page.length < pageSize) break;
      }
    }
  } finally {
    await store.dropCandidates(p.runId).catch(() => undefined);
  }
  return summary;
}
