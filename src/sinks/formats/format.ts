import { z } from 'zod';

/** Feed formats (SPEC §6): RFC 4180 CSV is the default; JSON Lines and OneRoster 1.1 are options. */
export const feedFormats = ['csv', 'jsonl', 'oneroster'] as const;
export const FeedFormat = z.enum(feedFormats);
export type FeedFormat = z.infer<typeof FeedFormat>;

/** Media types sent as Content-Type (HTTPS) and stored with the object (S3). */
export const CONTENT_TYPES: Record<FeedFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  jsonl: 'application/x-ndjson; charset=utf-8',
  // OneRoster CSV sets are exchanged as one zip of manifest.csv + data files.
  oneroster: 'application/zip',
};

export const EXTENSIONS: Record<FeedFormat, string> = { csv: 'csv', jsonl: 'jsonl', oneroster: 'zip' };

/** A batch id: safe in file names, object keys and HTTP headers. */
export const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The deterministic file name of a batch: the same batch id always lands on the same name. */
export function batchFileName(batchId: string, format: FeedFormat): string {
  return `gradestream-${batchId}.${EXTENSIONS[format]}`;
}
