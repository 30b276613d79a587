/**
 * The `Link` header (RFC 8288 §3) as Canvas paginates with it
 * (https://developerdocs.instructure.com/services/canvas/basics/file.pagination):
 *
 *     Link: <https://canvas/api/v1/courses/1/enrollments?page=2&per_page=100>; rel="next", <…>; rel="last"
 *
 * The links are opaque: followed as given, never built from page numbers. The parser never throws: a
 * malformed link-value is skipped up to the next top-level comma and the others are still read; the
 * header is read up to MAX_CHARS.
 */

export interface LinkValue {
  /** The URI reference between < and >, as written (resolve it against the request's URL). */
  target: string;
  /** Relation types of the first `rel` parameter, lower-cased ("next", "last", …); empty when none. */
  rel: string[];
}

const MAX_CHARS = 64 * 1024;
// RFC 9110 §5.6.2 tchar
const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

export function parseLinkHeader(header: string | null | undefined): LinkValue[] {
  if (typeof header !== 'string') return [];
  const text = header.length > MAX_CHARS ? header.slice(0, MAX_CHARS) : header;
  const n = text.length;
  const links: LinkValue[] = [];
  let i = 0;

  const skipSpace = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  // Past the next comma that is outside <…> and "…" (the end of a malformed link-value).
  const skipValue = () => {
    while (i < n && text[i] !== ',') {
      if (text[i] === '<') {
        const close = text.indexOf('>', i + 1);
        i = close === -1 ? n : close + 1;
      } else if (text[i] === '"') {
        i = endOfQuoted(text, i);
      } else {
        i++;
      }
    }
  };

  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === ',')) i++;
    if (i >= n) break;
    if (text[i] !== '<') {
      skipValue();
      continue;
    }
    const close = text.indexOf('>', i + 1);
    if (close === -1) break;
    const target = text.slice(i + 1, close).trim();
    i = close + 1;
    let rel: string[] | null = null;
    let ok = target !== '';
    for (;;) {
      skipSpace();
      if (i >= n || text[i] === ',') break;
      if (text[i] !== ';') {
        ok = false;
        skipValue();
        break;
      }
      i++;
      skipSpace();
      const nameStart = i;
      while (i < n && TCHAR.test(text[i]!)) i++;
      const name = text.slice(nameStart, i).toLowerCase();
      if (name === '') {
        ok = false;
        skipValue();
        break;
      }
      skipSpace();
      let value = '';
      if (text[i] === '=') {
        i++;
        skipSpace();
        if (text[i] === '"') {
          const end = endOfQuoted(text, i);
          if (end > n) {
            // unterminated quoted-string: nothing after it can be trusted
            ok = false;
            i = n;
            break;
          }
          value = text.slice(i + 1, end - 1).replace(/\\(.)/g, '$1');
          i = end;
        } else {
          const valueStart = i;
          while (i < n && TCHAR.test(text[i]!)) i++;
          value = text.slice(valueStart, i);
        }
      }
      // RFC 8288 §3.3: occurrences of rel after the first are ignored.
      if (name === 'rel' && rel === null) {
        rel = value
          .split(/[ \t]+/)
          .filter((r) => r !== '')
          .map((r) => r.toLowerCase());
      }
    }
    if (ok) links.push({ target, rel: rel ?? [] });
  }
  return links;
}

/** Index just past the quoted-string that opens at `start` (n + 1 when it never closes). */
function endOfQuoted(text: string, start: number): number {
  for (let j = start + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return text.length + 1;
}

/**
 * The `rel="next"` link resolved against the URL that was requested: a URL, `null` when there is no
 * next page, or `{ invalid }` when the target is not a URL at all.
 */
export function nextLink(header: string | null | undefined, requested: URL): URL | null | { invalid: string } {
  const next = parseLinkHeader(header).find((link) => link.rel.includes('next'));
  if (next === undefined) return null;
  try {
    return new URL(next.target, requested);
  } catch {
    return { invalid: next.target.slice(0, 200) };
  }
}
