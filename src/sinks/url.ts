import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Sink URLs (SPEC §7.2): `file:DIR`, `s3://bucket/prefix`, `https://…`. Plain `http://` is accepted
 * only for a loopback host (a local test receiver): grades never cross a network unencrypted.
 */
export type SinkLocation =
  | { kind: 'file'; dir: string }
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'https'; url: URL };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Parses a sink URL, or returns the reason it is not one (for a ConfigError listing every problem). */
export function parseSinkUrl(text: string): SinkLocation | { problem: string } {
  if (text.startsWith('file:')) {
    // `file:DIR` takes DIR literally (relative to the working directory); `file:///abs` is a real URL.
    let dir: string;
    try {
      dir = text.startsWith('file://') ? fileURLToPath(text) : text.slice('file:'.length);
    } catch (err) {
      return { problem: `not a usable file URL (${(err as Error).message})` };
    }
    if (dir === '') return { problem: 'file: needs a directory, e.g. file:./var/outbox' };
    return { kind: 'file', dir: resolve(dir) };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'expected file:DIR, s3://bucket/prefix or https://…' };
  }
  if (url.protocol === 's3:') {
    if (!BUCKET.test(url.hostname)) return { problem: `${JSON.stringify(url.hostname)} is not an S3 bucket name` };
    if (url.search !== '' || url.hash !== '' || url.username !== '') {
      return { problem: 's3:// takes only a bucket and a key prefix' };
    }
    return { kind: 's3', bucket: url.hostname, prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '') };
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    if (url.hash !== '') return { problem: 'an https sink URL has no #fragment' };
    return { kind: 'https', url };
  }
  if (url.protocol === 'http:') return { problem: 'plain http:// is allowed only to localhost; use https://' };
  return { problem: 'expected file:DIR, s3://bucket/prefix or https://…' };
}

/** The reason `text` is not a sink URL, or null when it is one. */
export function sinkUrlProblem(text: string): string | null {
  const parsed = parseSinkUrl(text);
  return 'problem' in parsed ? parsed.problem : null;
}

/**
 * The SIS target a sink URL names, without credentials: the key of the acknowledged-view ledger (SPEC
 * §4: it belongs to the target, not to a schedule) and the text shown in logs and history.
 */
export function sinkTarget(location: SinkLocation): string {
  switch (location.kind) {
    case 'file':
      return `file:${location.dir}`;
    case 's3':
      return `s3://${location.bucket}/${location.prefix}`;
    case 'https':
      return withoutCredentials(location.url);
  }
}

export function withoutCredentials(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
