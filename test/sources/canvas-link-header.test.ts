import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHttpDate, parseHttpDate } from '../../src/sources/canvas/http-date.js';
import { nextLink, parseLinkHeader } from '../../src/sources/canvas/link-header.js';

describe('Link header (RFC 8288)', () => {
  it("reads Canvas's pagination links", () => {
    const header =
      '<https://c.test/api/v1/courses/1/enrollments?page=1&per_page=100>; rel="current",' +
      '<https://c.test/api/v1/courses/1/enrollments?page=2&per_page=100>; rel="next",' +
      '<https://c.test/api/v1/courses/1/enrollments?page=1&per_page=100>; rel="first",' +
      '<https://c.test/api/v1/courses/1/enrollments?page=3&per_page=100>; rel="last"';
    expect(parseLinkHeader(header).map((l) => l.rel[0])).toEqual(['current', 'next', 'first', 'last']);
    expect(nextLink(header, new URL('https://c.test/api/v1/courses/1/enrollments'))?.toString()).toBe(
      'https://c.test/api/v1/courses/1/enrollments?page=2&per_page=100',
    );
  });

  it('reads unquoted rels, several relation types, case, other parameters and whitespace', () => {
    expect(parseLinkHeader('<a>;rel=next')).toEqual([{ target: 'a', rel: ['next'] }]);
    expect(parseLinkHeader('<a> ; title="x, y; z" ; REL="Last  NEXT"')).toEqual([{ target: 'a', rel: ['last', 'next'] }]);
    // only the first rel counts (RFC 8288 §3.3)
    expect(parseLinkHeader('<a>; rel="prev"; rel="next"')).toEqual([{ target: 'a', rel: ['prev'] }]);
    // a comma inside the target or a quoted parameter does not split links
    expect(parseLinkHeader('<https://x/?a=1,2>; title="a,b", <b>; rel=next')).toEqual([
      { target: 'https://x/?a=1,2', rel: [] },
      { target: 'b', rel: ['next'] },
    ]);
  });

  it('skips a malformed link-value and still reads the others', () => {
    expect(parseLinkHeader('garbage; rel="next", <b>; rel="next"')).toEqual([{ target: 'b', rel: ['next'] }]);
    expect(parseLinkHeader('<a> junk; rel="next", <b>; rel=last')).toEqual([{ target: 'b', rel: ['last'] }]);
    expect(parseLinkHeader('<a>; =x, <b>; rel=next')).toEqual([{ target: 'b', rel: ['next'] }]);
    expect(parseLinkHeader('<>; rel=next')).toEqual([]);
    expect(parseLinkHeader('<a>; rel="next')).toEqual([]); // unterminated quoted-string
    expect(parseLinkHeader('<a; rel=next')).toEqual([]); // unterminated target
    expect(parseLinkHeader('')).toEqual([]);
    expect(parseLinkHeader(null)).toEqual([]);
  });

  it('resolves a relative next link against the request, and says when the target is no URL', () => {
    const base = new URL('https://c.test/api/v1/courses/1/assignments?per_page=100');
    expect(nextLink('</api/v1/courses/1/assignments?page=2>; rel="next"', base)?.toString()).toBe('https://c.test/api/v1/courses/1/assignments?page=2');
    expect(nextLink('<https://c.test/x>; rel="prev"', base)).toBeNull();
    expect(nextLink('<http://[oops>; rel="next"', base)).toEqual({ invalid: 'http://[oops' });
  });

  it('never throws, whatever the header', () => {
    const alphabet = fc.constantFrom('<', '>', ';', ',', '"', '\\', '=', ' ', '\t', 'rel', 'next', 'a', 'http://x/', 'ü', '\u0000');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(alphabet, { maxLength: 40 }).map((parts) => parts.join(''))), (header) => {
        const links = parseLinkHeader(header);
        expect(Array.isArray(links)).toBe(true);
        nextLink(header, new URL('https://c.test/'));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('HTTP Date header', () => {
  it('reads IMF-fixdate, and nothing else', () => {
    expect(parseHttpDate('Mon, 03 Mar 2025 12:00:00 GMT')).toBe(Date.UTC(2025, 2, 3, 12, 0, 0));
    expect(parseHttpDate(formatHttpDate(Date.UTC(2024, 1, 29, 23, 59, 59)))).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
    expect(parseHttpDate('Mon, 31 Feb 2025 12:00:00 GMT')).toBeNull(); // impossible date, not rolled over
    expect(parseHttpDate('Monday, 03-Mar-25 12:00:00 GMT')).toBeNull(); // obsolete RFC 850 form
    expect(parseHttpDate('2025-03-03T12:00:00Z')).toBeNull();
    expect(parseHttpDate('1')).toBeNull();
    expect(parseHttpDate('Mon, 03 Mar 2025 24:00:00 GMT')).toBeNull();
    expect(parseHttpDate(null)).toBeNull();
  });
});
