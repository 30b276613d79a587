/**
 * How many times `name` is written as an object key in JSON `text`, at any depth. JSON.parse keeps the
 * last of duplicated keys, so `"muted":true,"muted":false` would read as posted: a grade's `muted` counts
 * only when written once. A full duplicate-key check of every message costs intake about a third of its
 * throughput (measured: README "Quarantine reasons"), so only `muted`, the key whose last-wins can
 * publish an unposted grade, is checked.
 *
 * Fast path: the key written literally, once, and no \u escape anywhere (which could spell it another
 * way). Otherwise every key token is read, escaped ones decoded.
 */
export function keyCount(text: string, name: string): number {
  const quoted = `"${name}"`;
  const first = text.indexOf(quoted);
  if (first !== -1 && text.indexOf(quoted, first + quoted.length) === -1 && !text.includes('\\u')) return 1;
  let count = 0;
  for (let i = text.indexOf('"'); i !== -1; ) {
    const end = closingQuote(text, i);
    if (end === -1) return count;
    let j = end + 1;
    let c = text.charCodeAt(j);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++j);
    if (c === 58 /* : */ && keyIs(text.slice(i, end + 1), name)) count += 1;
    i = text.indexOf('"', j);
  }
  return count;
}

/** The index of the quote closing the string that opens at `open`, or -1. */
function closingQuote(text: string, open: number): number {
  for (let end = text.indexOf('"', open + 1); end !== -1; end = text.indexOf('"', end + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(end - 1 - backslashes) === 92) backslashes += 1;
    if (backslashes % 2 === 0) return end;
  }
  return -1;
}

function keyIs(token: string, name: string): boolean {
  if (!token.includes('\\')) return token.length === name.length + 2 && token.slice(1, -1) === name;
  try {
    return JSON.parse(token) === name;
  } catch {
    return false;
  }
}
